"""The reviews and standings half of the ledger contract (issue 10): every backend keeps the
latest version of a review, answers reviews by rep and by deal (valid ones only), and keeps
each rep's standing. Subclass `ReviewsContract`, provide a `ledger` fixture."""
from __future__ import annotations

from dataclasses import replace

from integration.ledger import REVIEW_REJECTED, REVIEW_VALID, ReviewEntry, Standing

T0 = 1_700_000_000.0
T = "acme"


def review(n: int, rep: str = "rep1", deal: str | None = "d1", at: float = T0, tenant: str = T, **fields) -> ReviewEntry:
    base = ReviewEntry(tenant=tenant, review_id=f"zoom:{n}#peer#ana", rep_id=rep, deal_id=deal, submitted_at=at + n,
                       status=REVIEW_VALID, review={"scores": {"discovery_questions": 4}, "strengths": "Great questions"})  # fmt: skip
    return replace(base, **fields)


class ReviewsContract:
    def test_reviews_are_read_back_by_id_rep_and_deal_in_order(self, ledger):
        ledger.put_reviews([review(2), review(1), review(3, rep="rep2", deal="d2"), review(4, deal=None)])
        assert [r.review_id for r in ledger.reviews_of_reps(T, ["rep1"])] == ["zoom:1#peer#ana", "zoom:2#peer#ana", "zoom:4#peer#ana"]
        assert [r.review_id for r in ledger.reviews_of_deals(T, ["d1", "d2"])] == ["zoom:1#peer#ana", "zoom:2#peer#ana", "zoom:3#peer#ana"]
        got = ledger.get_reviews(T, ["zoom:3#peer#ana", "zoom:9#peer#ana"])
        assert list(got) == ["zoom:3#peer#ana"] and got["zoom:3#peer#ana"] == review(3, rep="rep2", deal="d2")

    def test_the_later_version_wins_whichever_arrives_last_and_twice_is_once(self, ledger):
        edited = review(1, at=T0 + 60, review={"scores": {"discovery_questions": 5}, "strengths": "Even better"})
        ledger.put_reviews([edited])
        ledger.put_reviews([review(1)])  # the older version, delivered late
        ledger.put_reviews([edited])
        [kept] = ledger.reviews_of_reps(T, ["rep1"])
        assert kept == edited

    def test_rejected_reviews_are_kept_with_their_reason_but_never_counted(self, ledger):
        ledger.put_reviews([review(1, review_id="zoom:1#peer#mallory#rejected", status=REVIEW_REJECTED, reason="not the assignee")])
        assert ledger.reviews_of_reps(T, ["rep1"]) == [] and ledger.reviews_of_deals(T, ["d1"]) == []
        assert ledger.get_reviews(T, ["zoom:1#peer#mallory#rejected"])["zoom:1#peer#mallory#rejected"].reason == "not the assignee"

    def test_tenants_are_kept_apart(self, ledger):
        ledger.put_reviews([review(1), review(2, tenant="other")])
        ledger.put_standings([Standing("other", "rep1", "graduated", "why", T0)])
        assert [r.tenant for r in ledger.reviews_of_reps(T, ["rep1"])] == [T]
        assert ledger.standings(T) == {}

    def test_standings_are_replaced_per_rep(self, ledger):
        ledger.put_standings([Standing(T, "rep1", "graduated", "5 reviews at or above 4", T0), Standing(T, "rep2", "enrolled", "new", T0)])
        ledger.put_standings([Standing(T, "rep1", "enrolled", "re-enrolled: below the bar", T0 + 9)])
        assert ledger.standings(T) == {"rep1": Standing(T, "rep1", "enrolled", "re-enrolled: below the bar", T0 + 9),
                                       "rep2": Standing(T, "rep2", "enrolled", "new", T0)}  # fmt: skip

    def test_two_workers_at_once_keep_the_later_version_and_every_rep(self, ledger):
        import threading

        old, new = review(1), review(1, at=T0 + 60, review={"scores": {"discovery_questions": 1}})

        def worker(n: int) -> None:
            for _ in range(3):
                ledger.put_reviews([old if n % 2 else new])
            ledger.put_standings([Standing(T, f"rep{n}", "enrolled", "new", T0)])

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ledger.get_reviews(T, [new.review_id])[new.review_id] == new
        assert sorted(ledger.standings(T)) == ["rep0", "rep1", "rep2", "rep3"]
