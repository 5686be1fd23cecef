"""The request limiter: waits only until the window has room, shared by threads, and kept
under the server's limit by HubSpot's rate-limit headers (real SDK, loopback server)."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.ratelimit import SlidingWindowLimiter
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, make_gateway  # noqa: F401


def test_low_remaining_waits_only_until_our_oldest_request_leaves_the_window(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 10.0, clock=fake_time.clock, sleep=fake_time.sleep)
    limiter.acquire()
    fake_time.now += 7.0
    limiter.acquire()

    limiter.observe({"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    limiter.acquire()

    assert fake_time.sleeps == [pytest.approx(3.0)]  # not a whole 10 s window


def test_a_request_keeps_its_place_in_the_window_until_its_answer_came(fake_time: FakeTime) -> None:
    # HubSpot counts a request when it arrives, which may be as late as its answer.
    limiter = SlidingWindowLimiter(2, 10.0, clock=fake_time.clock, sleep=fake_time.sleep)
    first = limiter.acquire()
    fake_time.now += 0.4
    limiter.answered(first)
    limiter.answered(limiter.acquire())

    limiter.acquire()

    assert fake_time.sleeps == [pytest.approx(10.0)]  # until 10 s after the first answer, not 9.6


def test_the_gateway_counts_each_request_in_the_window_from_its_answer(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_deal("101")

    def slow(request: Any) -> Any:
        fake_time.now += 0.4  # each answer comes 0.4 s after the send
        return hubspot_server.default(request)

    hubspot_server.route("POST", "/crm/v3/objects/deals/batch/read", slow)
    gateway = make_gateway(rate_limit_per_10s=2)

    for _ in range(3):
        gateway.read_deals(["101"])

    assert fake_time.sleeps == [pytest.approx(9.6)]  # the third waits 10 s from the first answer (not 9.2: from its send)
    assert hubspot_server.rejected == 0


def test_threads_sharing_a_limiter_share_its_budget() -> None:
    limiter = SlidingWindowLimiter(5, 0.1, clock=time.monotonic, sleep=time.sleep)

    def burst() -> None:
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=burst) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert 0.3 - 0.01 <= time.monotonic() - start < 1.5  # 20 requests at 5 per 0.1 s: 3 more windows


def test_a_thread_waiting_for_room_does_not_hold_up_the_others() -> None:
    limiter = SlidingWindowLimiter(1, 0.5, clock=time.monotonic, sleep=time.sleep)
    limiter.acquire()
    waiter = threading.Thread(target=limiter.acquire)
    waiter.start()
    time.sleep(0.02)

    start = time.monotonic()
    limiter.observe({"X-HubSpot-RateLimit-Remaining": "50", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    limiter.pause(0.0)

    assert time.monotonic() - start < 0.3  # the waiter sleeps 0.5 s
    waiter.join()


def test_limit_imposed_ceiling_is_reached_without_sleeping_whole_windows(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.rate_limit_headers = {"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    gateway = make_gateway(rate_limit_per_10s=10)

    for _ in range(3):
        gateway.read_deals(["101"])
        fake_time.now += 4.0

    assert fake_time.sleeps == [pytest.approx(6.0), pytest.approx(6.0)]


def test_remaining_headers_keep_the_gateway_under_a_limit_it_was_not_configured_with(hubspot_server: HubSpotServer) -> None:
    hubspot_server.enforce_limit(4, 0.3)
    gateway = HubSpotGateway("pat-na1-limited", host=hubspot_server.url, rate_limit_per_10s=100)

    start = time.monotonic()
    for _ in range(10):
        gateway.read_deals(["101"])
    gateway.close()

    assert hubspot_server.rejected == 0
    assert time.monotonic() - start >= 0.6 - 0.01  # 10 requests at 4 per 0.3 s: two more windows
