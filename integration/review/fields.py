"""Every CRM field the review write-back sets, named in one place (the installer's manifest
lists these). Pure: names and values, no I/O.

Salesforce (custom fields; Number(5,2) unless said):
- Opportunity: `GameFilm_Avg_<Key>__c` per criterion, `GameFilm_Weighted_Avg__c`,
  `GameFilm_Review_Count__c` (Number(6,0)), `GameFilm_Last_Score__c`, `GameFilm_Last_Reviewed__c` (Date).
- Call_Review__c: `Weighted_Score__c`; `GameFilm_Error__c` (Text(255)) says why a record was rejected.
- User, or with `rep_scores = "scorecard"` a `Rep_Scorecard__c` per rep (upserted on
  `GameFilm_Rep_Key__c` = the user id, `Rep__c` the rep), with the same fields (the rep's rolling numbers over the last `window` peer reviews): `GameFilm_Rolling_<Key>__c`,
  `GameFilm_Rolling_Avg__c`, `GameFilm_Peer_Reviews__c` (Number(6,0)), `GameFilm_Status__c`
  (Text(20): enrolled | graduated), `GameFilm_Status_Reason__c` (Text(255)), `GameFilm_Status_Since__c` (Date).
  A report on User groups by Manager/Role; the leaderboard sorts by `GameFilm_Rolling_Avg__c`.

HubSpot (owners carry no custom properties, so a rep's numbers live on the records the rep
owns; reports group deals and calls by "Deal owner" / "Activity assigned to"):
- deals: `gamefilm_avg_<key>`, `gamefilm_weighted_avg`, `gamefilm_review_count`, `gamefilm_last_score`,
  `gamefilm_last_reviewed` (date).
- calls (the engagement the review is about; its owner is the rep): `gamefilm_weighted_score` and
  `gamefilm_score_<key>` (the call's peer-review averages), and the rep's rolling numbers as of that
  call: `gamefilm_rep_rolling_avg`, `gamefilm_rep_rolling_<key>`, `gamefilm_rep_status`. The rep's
  latest reviewed call carries the current ones: a report of calls grouped by owner, "latest
  activity date" per owner, reads them.
Suggestions and improvement areas never appear here: they stay on the review (one-on-one).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from integration.scoring import DealRollup, RepStanding

SF_CALL_REVIEW = "Call_Review__c"
SF_CALL_REVIEW_SHARE = "Call_Review__Share"  # its share object (Private: the rep reads their review through a manual share)
SF_SCORECARD = "Rep_Scorecard__c"  # one per rep, upserted on SF_SCORECARD_KEY (Text(18), External ID, Unique)
SF_SCORECARD_KEY = "GameFilm_Rep_Key__c"
SF_SCORECARD_REP = "Rep__c"  # Lookup(User): reports group scorecards by the rep and their manager
SF_WEIGHTED_SCORE = "Weighted_Score__c"
SF_REVIEW_ERROR = "GameFilm_Error__c"
SF_ERROR_CHARS = 255


def _sf_key(key: str) -> str:
    """discovery_questions -> Discovery_Questions (Salesforce API names: no "__" inside)."""
    return "_".join(part.capitalize() for part in key.split("_"))


def deal_fields(crm: str, rollup: DealRollup) -> dict[str, Any]:
    if crm == "salesforce":
        out: dict[str, Any] = {f"GameFilm_Avg_{_sf_key(k)}__c": v for k, v in rollup.criteria.items()}
        return out | {"GameFilm_Weighted_Avg__c": rollup.weighted_average, "GameFilm_Review_Count__c": rollup.count,
                      "GameFilm_Last_Score__c": rollup.last_score, "GameFilm_Last_Reviewed__c": rollup.last_reviewed_on}  # fmt: skip
    out = {f"gamefilm_avg_{k}": v for k, v in rollup.criteria.items()}
    return out | {"gamefilm_weighted_avg": rollup.weighted_average, "gamefilm_review_count": rollup.count,
                  "gamefilm_last_score": rollup.last_score, "gamefilm_last_reviewed": rollup.last_reviewed_on}  # fmt: skip


def rep_fields(crm: str, standing: RepStanding, since: date | None) -> dict[str, Any]:
    if crm == "salesforce":
        out: dict[str, Any] = {f"GameFilm_Rolling_{_sf_key(k)}__c": v for k, v in standing.criteria.items()}
        return out | {"GameFilm_Rolling_Avg__c": standing.overall, "GameFilm_Peer_Reviews__c": standing.peer_reviews,
                      "GameFilm_Status__c": standing.status, "GameFilm_Status_Reason__c": standing.reason[:255],
                      "GameFilm_Status_Since__c": since}  # fmt: skip
    out = {f"gamefilm_rep_rolling_{k}": v for k, v in standing.criteria.items()}
    return out | {"gamefilm_rep_rolling_avg": standing.overall, "gamefilm_rep_status": standing.status}


def call_fields(criteria: Mapping[str, Decimal | None], weighted: Decimal) -> dict[str, Any]:
    """HubSpot call: the call's own peer-review averages."""
    return {f"gamefilm_score_{k}": v for k, v in criteria.items()} | {"gamefilm_weighted_score": weighted}


def completed_task(crm: str) -> tuple[str, dict[str, str]]:
    """(object type, fields) that complete a review task."""
    return ("Task", {"Status": "Completed"}) if crm == "salesforce" else ("task", {"hs_task_status": "COMPLETED"})


def deal_object(crm: str) -> str:
    return "Opportunity" if crm == "salesforce" else "deal"
