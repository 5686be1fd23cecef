// The card as a reviewer uses it, rendered with HubSpot's own test renderer; the backend is the
// `hsFetch` behind the real `hubspot.fetch`, answering what /hooks/hubspot/reviews answers. The
// form definitions are integration/review_form.py's (tests/test_hubspot_card.py keeps them so).
import { Alert, Button, EmptyState, Select, Text, TextArea } from '@hubspot/ui-extensions';
import type { CrmContext } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it, vi } from 'vitest';

import app from '../../app-hsmeta.json';
import { BACKEND_URL } from '../config';
import { ReviewCard } from '../ReviewCard';
import fixture from './form-fields.json';

const FORM_URL = `${BACKEND_URL}/hooks/hubspot/reviews/form?taskId=`;
const SUBMIT_URL = `${BACKEND_URL}/hooks/hubspot/reviews`;
const PEER = fixture.peer;
const SELF = fixture.self;
const CRITERIA = PEER.filter((f) => f.kind === 'score').map((f) => f.name.slice('scores.'.length));

type Answer = { status: number; body: unknown };
type Call = [string, { method?: string; body?: Record<string, unknown> } | undefined];

/** The backend: GET form answers per task id, then the POST answers in order. */
function backend(forms: Record<string, Answer>, posts: Answer[] = []) {
  const fake = vi.fn(async (url: string) => {
    const answer = url.startsWith(FORM_URL) ? forms[decodeURIComponent(url.slice(FORM_URL.length))] : posts.shift();
    if (!answer) throw new Error(`unexpected request ${url}`);
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'Content-Type': 'application/json' } });
  });
  (globalThis as unknown as { hsFetch: unknown }).hsFetch = fake;
  return fake;
}

/** What typing or choosing does: the input's onChange with the new value (the typings of
 * `trigger` want the handler's own type as its argument, so the value goes through a cast). */
function change(node: { trigger: unknown }, value: string) {
  (node.trigger as (name: string, value: string) => void).call(node, 'onChange', value);
}

const calls = (fake: ReturnType<typeof backend>) => fake.mock.calls as unknown as Call[];

function context(objectTypeId: string, objectId: number): CrmContext {
  return {
    location: 'crm.record.tab',
    crm: { objectId, objectTypeId },
    user: { id: 7001, email: 'ana@acme.io', emails: ['ana@acme.io'], firstName: 'Ana', lastName: 'Reviewer', roles: [], teams: [], permissions: [], locale: 'en' },
    portal: { id: 4242, timezone: 'Europe/Berlin' },
  } as unknown as CrmContext;
}

const peerForm = { status: 200, body: { task: { taskId: '9001', kind: 'peer', title: 'Discovery call with Acme' }, fields: PEER } };
const selfForm = { status: 200, body: { task: { taskId: '9002', kind: 'self', title: 'Your call with Acme' }, fields: SELF } };

/** The card on a task record, once its form has loaded. */
async function openTask(taskId: string) {
  const renderer = createRenderer('crm.record.tab');
  renderer.render(<ReviewCard context={context('0-27', Number(taskId))} />);
  await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Button, 'submit')).not.toBeNull());
  return renderer;
}

/** Every input of the form, in the order the reviewer meets them. */
function inputs(renderer: ReturnType<typeof createRenderer>) {
  const all = [...renderer.findAll(TextArea), ...renderer.findAll(Select)];
  const order = renderer.getRootNode().toString();
  return all
    .map((node) => ({ node, at: order.indexOf(`name="${node.props.name}"`) }))
    .sort((a, b) => a.at - b.at)
    .map(({ node }) => node);
}

describe('the review form on a task record', () => {
  it('asks, in order: what went well (required, first), a score per criterion with its label and description, then at most two suggestions', async () => {
    const fake = backend({ '9001': peerForm });
    const renderer = await openTask('9001');

    expect(calls(fake)[0]).toEqual([`${FORM_URL}9001`, { method: 'GET' }]);
    const fields = inputs(renderer);
    expect(fields.map((f) => f.props.name)).toEqual([
      'strengths',
      ...CRITERIA.map((k) => `scores.${k}`),
      'suggestions[0]',
      'suggestions[1]',
    ]);
    expect(fields[0].props).toMatchObject({ label: 'What went well', required: true, maxLength: 2000 });
    for (const field of PEER.filter((f) => f.kind === 'score')) {
      const select = renderer.findByTestId(Select, field.name);
      expect(select.props).toMatchObject({ label: field.label, description: field.help, required: true });
      expect(select.props.options.map((o) => o.value)).toEqual(['1', '2', '3', '4', '5']);
    }
    expect(renderer.findAll(TextArea).filter((t) => String(t.props.name).startsWith('suggestions'))).toHaveLength(2);
    expect(renderer.maybeFind(Select, { name: 'improvement_area' })).toBeNull();
    expect(renderer.find(Text, (t) => t.text === 'Discovery call with Acme')).toBeDefined();
  });

  it('posts the review with hubspot.fetch: scores as numbers, the strengths, the suggestions typed (blank boxes dropped), and shows the success', async () => {
    const fake = backend({ '9001': peerForm }, [{ status: 200, body: { weighted_score: '3.75' } }]);
    const renderer = await openTask('9001');

    change(renderer.findByTestId(TextArea, 'strengths'), '  Clear agenda, and she let the buyer talk. ');
    CRITERIA.forEach((key, i) => change(renderer.findByTestId(Select, `scores.${key}`), String(3 + (i % 2))));
    change(renderer.findByTestId(TextArea, 'suggestions[0]'), 'Ask for the budget before the demo.');
    renderer.findByTestId(Button, 'submit').trigger('onClick');

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Alert, 'saved')).not.toBeNull());
    expect(calls(fake)[1]).toEqual([
      SUBMIT_URL,
      {
        method: 'POST',
        body: {
          taskId: '9001',
          strengths: 'Clear agenda, and she let the buyer talk.',
          scores: { discovery_questions: 3, objection_handling: 4, closing_technique: 3, next_steps_agreed: 4 },
          suggestions: ['Ask for the budget before the demo.'],
        },
      },
    ]);
    expect(renderer.findByTestId(Alert, 'saved').text).toContain('Weighted score: 3.75');
    expect(renderer.maybeFindByTestId(Button, 'submit')).toBeNull();
  });

  it("shows the backend's errors next to their fields and keeps what was typed", async () => {
    backend({ '9001': peerForm }, [
      {
        status: 400,
        body: {
          errors: {
            strengths: 'required: say what went well first',
            'scores.closing_technique': 'required: a whole number from 1 to 5',
            'suggestions[1]': 'one idea per suggestion, not a list',
          },
        },
      },
    ]);
    const renderer = await openTask('9001');
    change(renderer.findByTestId(TextArea, 'suggestions[1]'), '- a\n- b');
    renderer.findByTestId(Button, 'submit').trigger('onClick');

    await renderer.waitFor(() => expect(renderer.findByTestId(TextArea, 'strengths').props.error).toBe(true));
    expect(renderer.findByTestId(TextArea, 'strengths').props.validationMessage).toBe('required: say what went well first');
    expect(renderer.findByTestId(Select, 'scores.closing_technique').props).toMatchObject({
      error: true,
      validationMessage: 'required: a whole number from 1 to 5',
    });
    expect(renderer.findByTestId(TextArea, 'suggestions[1]').props).toMatchObject({
      error: true,
      validationMessage: 'one idea per suggestion, not a list',
      value: '- a\n- b',
    });
    expect(renderer.findByTestId(Select, 'scores.discovery_questions').props.error).toBe(false);
    expect(renderer.maybeFindByTestId(Alert, 'saved')).toBeNull();
    expect(renderer.maybeFindByTestId(Alert, 'general-error')).toBeNull();
  });

  it('shows an error that belongs to no field (task closed meanwhile) above the button', async () => {
    backend({ '9001': peerForm }, [
      { status: 409, body: { errors: { task: 'this review task is no longer open (completed or cancelled); nothing was changed' } } },
    ]);
    const renderer = await openTask('9001');
    renderer.findByTestId(Button, 'submit').trigger('onClick');

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Alert, 'general-error')).not.toBeNull());
    expect(renderer.findByTestId(Alert, 'general-error').text).toContain('no longer open');
  });

  it('asks the rep for scores and exactly one improvement area on a self-assessment, and posts only those', async () => {
    const fake = backend({ '9002': selfForm }, [{ status: 200, body: { weighted_score: '4.00' } }]);
    const renderer = await openTask('9002');

    expect(inputs(renderer).map((f) => f.props.name)).toEqual([
      ...CRITERIA.map((k) => `scores.${k}`),
      'improvement_area',
      'improvement_note',
    ]);
    const area = renderer.findByTestId(Select, 'improvement_area');
    expect(area.props.required).toBe(true);
    expect(area.props.options).toEqual(SELF.find((f) => f.name === 'improvement_area')!.choices.map(([value, label]) => ({ value, label })));
    expect(renderer.maybeFindByTestId(TextArea, 'strengths')).toBeNull();
    expect(renderer.maybeFindByTestId(TextArea, 'suggestions[0]')).toBeNull();

    CRITERIA.forEach((key) => change(renderer.findByTestId(Select, `scores.${key}`), '4'));
    change(renderer.findByTestId(Select, 'improvement_area'), 'objection_handling');
    renderer.findByTestId(Button, 'submit').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Alert, 'saved')).not.toBeNull());
    expect(calls(fake)[1][1]!.body).toEqual({
      taskId: '9002',
      scores: { discovery_questions: 4, objection_handling: 4, closing_technique: 4, next_steps_agreed: 4 },
      improvement_area: 'objection_handling',
    });
  });

  it('explains, in short, when no review is open for this user', async () => {
    backend({ '9003': { status: 403, body: { errors: { reviewer: 'only the reviewer the task is assigned to can submit this review' } } } });
    const renderer = createRenderer('crm.record.tab');
    renderer.render(<ReviewCard context={context('0-27', 9003)} />);

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(EmptyState, 'no-review')).not.toBeNull());
    expect(renderer.findByTestId(EmptyState, 'no-review').props.title).toBe('No review open for you');
    expect(renderer.find(Text, (t) => String(t.text).includes('only the reviewer the task is assigned to'))).toBeDefined();
    expect(renderer.maybeFind(TextArea)).toBeNull();
  });

  it('says Game Film is unreachable instead of an empty form when the request fails', async () => {
    (globalThis as unknown as { hsFetch: unknown }).hsFetch = vi.fn(() => Promise.reject(new Error('timeout')));
    const renderer = createRenderer('crm.record.tab');
    renderer.render(<ReviewCard context={context('0-27', 9004)} />);

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Alert, 'unreachable')).not.toBeNull());
  });
});

describe('the card on a deal record', () => {
  const task = (id: number, status: string, subject: string) => ({
    toObjectId: id,
    associationTypes: [],
    properties: { hs_task_status: status, hs_task_subject: subject },
  });
  const associated = (results: ReturnType<typeof task>[]) => ({
    results,
    error: null,
    isLoading: false,
    isRefetching: false,
    refetch: async () => {},
    pagination: { hasNextPage: false, hasPreviousPage: false, currentPage: 1, pageSize: 50, nextPage: () => {}, previousPage: () => {}, reset: () => {} },
  });

  it("asks about the deal's open tasks only and shows the form of the one open for this user", async () => {
    const fake = backend({
      '501': peerForm,
      '502': { status: 403, body: { errors: { reviewer: 'only the reviewer the task is assigned to can submit this review' } } },
    });
    const renderer = createRenderer('crm.record.tab');
    renderer.mocks.useAssociations.willCall(() =>
      associated([task(500, 'COMPLETED', 'Done review'), task(501, 'NOT_STARTED', 'Review: call'), task(502, 'NOT_STARTED', 'Other review')]),
    );
    renderer.render(<ReviewCard context={context('0-3', 77)} />);

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Button, 'submit')).not.toBeNull());
    expect(renderer.mocks.useAssociations.calls[0][0]).toMatchObject({ toObjectType: '0-27' });
    expect(calls(fake).map(([url]) => url).sort()).toEqual([`${FORM_URL}501`, `${FORM_URL}502`]);
    expect(renderer.findByTestId(TextArea, 'strengths')).toBeDefined();
    expect(renderer.maybeFindByTestId(Select, 'choose-review')).toBeNull();
  });

  it('lets the reviewer pick when two reviews on the deal are open for them, and posts the one picked', async () => {
    const second = { status: 200, body: { task: { taskId: '702', kind: 'peer', title: 'Pricing call' }, fields: PEER } };
    const fake = backend({ '701': { ...peerForm, body: { ...peerForm.body, task: { taskId: '701', kind: 'peer', title: 'Discovery call' } } }, '702': second }, [
      { status: 200, body: { weighted_score: '5.00' } },
    ]);
    const renderer = createRenderer('crm.record.tab');
    renderer.mocks.useAssociations.willCall(() => associated([task(701, 'NOT_STARTED', 'a'), task(702, 'IN_PROGRESS', 'b')]));
    renderer.render(<ReviewCard context={context('0-3', 79)} />);

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Select, 'choose-review')).not.toBeNull());
    expect(renderer.findByTestId(Select, 'choose-review').props.options.map((o) => o.label)).toEqual(['Discovery call', 'Pricing call']);
    change(renderer.findByTestId(Select, 'choose-review'), '1');
    await renderer.waitFor(() => expect(renderer.find(Text, (t) => t.text === 'Pricing call')).toBeDefined());
    change(renderer.findByTestId(TextArea, 'strengths'), 'Named the price early.');
    CRITERIA.forEach((key) => change(renderer.findByTestId(Select, `scores.${key}`), '5'));
    renderer.findByTestId(Button, 'submit').trigger('onClick');

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Alert, 'saved')).not.toBeNull());
    const posted = calls(fake).find(([url]) => url === SUBMIT_URL)!;
    expect(posted[1]!.body).toMatchObject({ taskId: '702', strengths: 'Named the price early.' });
  });

  it('explains that no review is open when none of the open tasks is this user’s', async () => {
    backend({ '601': { status: 403, body: { errors: { reviewer: 'only the reviewer the task is assigned to can submit this review' } } } });
    const renderer = createRenderer('crm.record.tab');
    renderer.mocks.useAssociations.willCall(() => associated([task(601, 'NOT_STARTED', 'Someone else’s review')]));
    renderer.render(<ReviewCard context={context('0-3', 78)} />);

    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(EmptyState, 'no-review')).not.toBeNull());
  });
});

describe('the project configuration', () => {
  it('lets hubspot.fetch reach the backend the card calls', () => {
    expect(app.config.permittedUrls.fetch).toContain(BACKEND_URL);
  });
});
