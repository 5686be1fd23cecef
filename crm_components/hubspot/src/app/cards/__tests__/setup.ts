// HubSpot runs a card in a worker where `hubspot.fetch` is `self.hsFetch`: the tests stand in
// for that function, so the card's real `hubspot.fetch` calls are what the tests see.
import { beforeEach, vi } from 'vitest';

const worker = globalThis as unknown as { self: unknown; hsFetch: unknown };
worker.self = globalThis;

beforeEach(() => {
  worker.hsFetch = vi.fn(() => Promise.reject(new Error('no backend answer set up for this test')));
});
