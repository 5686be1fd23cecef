"""A seeded Salesforce org behind `responses` that answers the SOQL the adapter sends, for the
review loop's end-to-end tests and bench/recordings_salesforce.py.

Unlike tests/salesforce_org.py (writes and the lookups of what a create made), this org holds
seeded records (User, Contact, Account, Opportunity, OpportunityContactRole,
OpportunityTeamMember, Task) and evaluates the queries themselves: `SELECT` lists with
parent fields (`Opportunity.Name`) and child subqueries (`(SELECT UserId FROM
OpportunityTeamMembers)`, null when there are no children, as Salesforce answers), `WHERE`
with AND/OR/parentheses, `IN` (a list, or a semi-join `IN (SELECT <field> FROM ...)`), `=`, `>=`, `LIKE` (case-insensitive, `\\%`/`\\_` literal), and
`ORDER BY <field> [ASC|DESC]`. Writes as the REST API documents them: sObject Collections
create (POST; a `<Object>__Share` for a record and user already shared manually updates that share) and update (PATCH) with `allOrNone`, upsert on an External ID field
(`PATCH composite/sobjects/Task/<field>`, `created` per result; a create-only field such as
TaskSubtype on an existing record is refused per record), and the OAuth userinfo endpoint.
`faults` holds what happens to each next write (see tests/salesforce_org.py for the kinds).
Every request is logged in `requests` as (kind, body or SOQL), kind e.g. `query Contact`,
`upsert Task.GameFilm_Recording_Id__c`, `create Task`, `update Task`.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import responses

from tests.salesforce_org import refused

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
COLLECTIONS = f"{DATA}/composite/sobjects"
USERINFO = f"{INSTANCE}/services/oauth2/userinfo"
INTEGRATION_USER = "005000000000009AAA"
PREFIXES = {"Task": "00T", "User": "005", "Contact": "003", "Account": "001", "Opportunity": "006",
            "OpportunityContactRole": "00K", "OpportunityTeamMember": "00q", "Call_Review__Share": "02c"}  # fmt: skip
CHILDREN = {"OpportunityTeamMembers": ("OpportunityTeamMember", "OpportunityId"),
            "OpportunityContactRoles": ("OpportunityContactRole", "OpportunityId")}  # relationship -> (sObject, its lookup)
CREATE_ONLY = {"Task": ("TaskSubtype",)}  # createable, not updateable (Task object reference)


def sf_time(moment: datetime) -> str:
    """A datetime as the REST API writes it: `2026-11-23T14:00:00.000+0000`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SeededOrg:
    def __init__(self, http: responses.RequestsMock, *, now: Callable[[], datetime]):
        self.now = now
        self.records: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, Any]] = []
        self.faults: list[str | None] = []
        self._ids = itertools.count(1)
        for method in (responses.POST, responses.PATCH):
            http.add_callback(method, COLLECTIONS, callback=self._collection)
        http.add_callback(responses.PATCH, re.compile(rf"{re.escape(COLLECTIONS)}/(\w+)/(\w+)"), callback=self._upsert)
        for path in ("query/", "queryAll/"):
            http.add_callback(responses.GET, f"{DATA}/{path}", callback=self._query)
        http.add_callback(responses.GET, USERINFO, callback=self._userinfo)

    # ---- seeding and reading the org ------------------------------------------------------

    def add(self, sobject: str, record_id: str | None = None, **fields: Any) -> str:
        record_id = record_id or self._new_id(sobject)
        stamp = sf_time(self.now())
        record = {"attributes": {"type": sobject}, "Id": record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, **fields}
        if sobject == "Task":
            record.setdefault("IsClosed", record.get("Status") == "Completed")
            record.setdefault("IsReminderSet", False)
        self.records[record_id] = record
        return record_id

    def of_type(self, sobject: str, **where: Any) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["attributes"]["type"] == sobject and all(r.get(k) == v for k, v in where.items())]

    def update(self, record_id: str, **fields: Any) -> None:
        """A person's edit in Salesforce."""
        self.records[record_id].update(fields, LastModifiedDate=sf_time(self.now()))

    def complete(self, task_id: str) -> None:
        self.update(task_id, Status="Completed", IsClosed=True, CompletedDateTime=sf_time(self.now()))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.requests]

    def bodies(self, kind: str) -> list[Any]:
        return [body for k, body in self.requests if k == kind]

    # ---- HTTP: reads ----------------------------------------------------------------------

    def _userinfo(self, request: Any) -> Any:
        self.requests.append(("userinfo", None))
        return 200, {}, json.dumps({"user_id": INTEGRATION_USER, "organization_id": "00D000000000001AAA"})

    def _query(self, request: Any) -> Any:
        url = urlsplit(request.url)
        soql = parse_qs(url.query)["q"][0]
        self.requests.append((f"query {_parts(soql)[1]}", soql))
        select, matches = self._select(soql)
        rows = [self._row(r, select) for r in matches]
        return 200, {}, json.dumps({"totalSize": len(rows), "done": True, "records": rows})

    def _select(self, soql: str) -> tuple[list[str], list[dict[str, Any]]]:
        select, sobject, where, order = _parts(soql)
        test = _Where(where, self._value, self._semi_join).parse() if where else (lambda r: True)
        matches = [r for r in self.of_type(sobject) if test(r)]
        if order:
            field, _, direction = order.partition(" ")
            matches.sort(key=lambda r: str(self._value(r, field) or ""), reverse=direction.strip().upper() == "DESC")
        return select, matches

    def _semi_join(self, soql: str) -> set[Any]:
        """The values of a semi-join's one selected field (`Id IN (SELECT OpportunityId FROM ...)`)."""
        select, matches = self._select(soql)
        assert len(select) == 1, "a semi-join selects one field"
        return {self._value(r, select[0]) for r in matches}

    def _row(self, record: dict[str, Any], select: list[str]) -> dict[str, Any]:
        sobject = record["attributes"]["type"]
        row: dict[str, Any] = {"attributes": _attributes(sobject, record["Id"])}
        for item in select:
            if item.startswith("("):
                fields, relationship = re.fullmatch(r"\(SELECT (.+) FROM (\w+)\)", item).groups()  # type: ignore[union-attr]
                child, lookup = CHILDREN[relationship]
                kids = [self._row(c, [f.strip() for f in fields.split(",")]) for c in self.of_type(child) if c.get(lookup) == record["Id"]]
                row[relationship] = {"totalSize": len(kids), "done": True, "records": kids} if kids else None
            elif "." in item:
                parent_name, field = item.split(".", 1)
                parent = self.records.get(record.get(parent_name + "Id") or "")
                if parent is None:
                    row[parent_name] = None
                    continue
                nested = row.setdefault(parent_name, {"attributes": _attributes(parent["attributes"]["type"], parent["Id"])})
                nested[field] = parent.get(field)
            else:
                row[item] = record.get(item)
        return row

    def _value(self, record: dict[str, Any], field: str) -> Any:
        while "." in field:
            parent_name, field = field.split(".", 1)
            record = self.records.get(record.get(parent_name + "Id") or "") or {}
        return record.get(field)

    # ---- HTTP: writes ---------------------------------------------------------------------

    def _collection(self, request: Any) -> Any:
        records = json.loads(request.body)["records"]
        types = sorted({r["attributes"]["type"] for r in records})
        kind = ("create " if request.method == "POST" else "update ") + ",".join(types)
        return self._write(kind, json.loads(request.body), lambda r: self._create(r) if request.method == "POST" else self._update(r))

    def _upsert(self, request: Any) -> Any:
        sobject, field = urlsplit(request.url).path.rsplit("/", 2)[-2:]
        return self._write(f"upsert {sobject}.{field}", json.loads(request.body), lambda r: self._upsert_one(sobject, field, r))

    def _write(self, kind: str, body: dict[str, Any], apply: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        self.requests.append((kind, body))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "refused":
            return refused()
        if fault == "refuse-500":
            return 500, {}, json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}])
        results = [apply(r) for r in body["records"]]
        if fault == "apply-500":
            return 500, {}, json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}])
        return 200, {"Sforce-Limit-Info": "api-usage=10/100000"}, json.dumps(results)

    def _create(self, record: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in record.items() if k != "attributes"}
        if record["attributes"]["type"].endswith("__Share"):  # a second manual share of a record and user updates the first
            same = [r for r in self.of_type(record["attributes"]["type"]) if (r["ParentId"], r["UserOrGroupId"], r.get("RowCause")) ==
                    (fields["ParentId"], fields["UserOrGroupId"], fields.get("RowCause", "Manual"))]  # fmt: skip
            if same:
                self.update(same[0]["Id"], AccessLevel=fields["AccessLevel"])
                return {"id": same[0]["Id"], "success": True, "errors": []}
        new_id = self.add(record["attributes"]["type"], CreatedById=INTEGRATION_USER, **fields)
        return {"id": new_id, "success": True, "errors": []}

    def _update(self, record: dict[str, Any]) -> dict[str, Any]:
        target = self.records.get(record.get("id") or "")
        if target is None:
            return {"id": record.get("id"), "success": False,
                    "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}  # fmt: skip
        refused_fields = [f for f in CREATE_ONLY.get(target["attributes"]["type"], ()) if f in record]
        if refused_fields:
            return _refused(record.get("id"), refused_fields)
        self.update(target["Id"], **{k: v for k, v in record.items() if k not in ("attributes", "id")})
        return {"id": target["Id"], "success": True, "errors": []}

    def _upsert_one(self, sobject: str, field: str, record: dict[str, Any]) -> dict[str, Any]:
        existing = [r for r in self.of_type(sobject) if r.get(field) is not None and r.get(field) == record.get(field)]
        if not existing:
            return {**self._create(record), "created": True}
        refused_fields = [f for f in CREATE_ONLY.get(sobject, ()) if f in record]
        if refused_fields:
            return _refused(None, refused_fields)
        self.update(existing[0]["Id"], **{k: v for k, v in record.items() if k != "attributes"})
        return {"id": existing[0]["Id"], "success": True, "errors": [], "created": False}

    def _new_id(self, sobject: str) -> str:
        return f"{PREFIXES[sobject]}{next(self._ids):012d}AAA"


def _attributes(sobject: str, record_id: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v59.0/sobjects/{sobject}/{record_id}"}


def _refused(record_id: str | None, fields: list[str]) -> dict[str, Any]:
    message = f"Unable to create/update fields: {', '.join(fields)}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."
    return {"id": record_id, "success": False, "errors": [{"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": message, "fields": fields}]}


def _top_level(text: str, separator: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each occurrence of `separator` outside parentheses and quotes."""
    depth, quoted, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(separator, i):
            yield i, i + len(separator)
            i += len(separator)
            continue
        i += 1


def _parts(soql: str) -> tuple[list[str], str, str | None, str | None]:
    """(select items, sObject, WHERE text, ORDER BY text) of a query."""
    start, end = next(_top_level(soql, " FROM "))
    select_text, rest = soql[len("SELECT ") : start], soql[end:]
    order = None
    found = list(_top_level(rest, " ORDER BY "))
    if found:
        rest, order = rest[: found[0][0]], rest[found[0][1] :]
    sobject, _, where = rest.partition(" WHERE ")
    items, last = [], 0
    for s, e in _top_level(select_text, ","):
        items.append(select_text[last:s].strip())
        last = e
    items.append(select_text[last:].strip())
    return items, sobject.strip(), where or None, order


_TOKEN = re.compile(r"\s*(?:(\()|(\))|('(?:[^'\\]|\\.)*')|(>=|<=|!=|=|<|>)|(,)|([\w.:+-]+))")


class _Where:
    """A WHERE clause as a predicate over records (recursive descent: OR of ANDs of atoms)."""

    def __init__(self, text: str, value: Callable[[dict[str, Any], str], Any], semi_join: Callable[[str], set[Any]]):
        self.tokens = [m.group(0).strip() for m in _TOKEN.finditer(text) if m.group(0).strip()]
        self.value = value
        self.semi_join = semi_join
        self.i = 0

    def parse(self) -> Callable[[dict[str, Any]], bool]:
        test = self._or()
        assert self.i == len(self.tokens), f"unparsed SOQL: {self.tokens[self.i:]}"
        return test

    def _next(self) -> str:
        self.i += 1
        return self.tokens[self.i - 1]

    def _peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _or(self) -> Callable[[dict[str, Any]], bool]:
        tests = [self._and()]
        while (self._peek() or "").upper() == "OR":
            self._next()
            tests.append(self._and())
        return lambda r: any(t(r) for t in tests)

    def _and(self) -> Callable[[dict[str, Any]], bool]:
        tests = [self._atom()]
        while (self._peek() or "").upper() == "AND":
            self._next()
            tests.append(self._atom())
        return lambda r: all(t(r) for t in tests)

    def _atom(self) -> Callable[[dict[str, Any]], bool]:
        token = self._next()
        if token == "(":
            test = self._or()
            assert self._next() == ")"
            return test
        field, op = token, self._next().upper()
        if op == "IN":
            assert self._next() == "("
            if (self._peek() or "").upper() == "SELECT":
                depth, inner = 1, []
                while True:
                    item = self._next()
                    depth += {"(": 1, ")": -1}.get(item, 0)
                    if depth == 0:
                        break
                    inner.append(item)
                found = self.semi_join(" ".join(inner))
                return lambda r: self.value(r, field) in found
            values = []
            while (item := self._next()) != ")":
                if item != ",":
                    values.append(_literal(item))
            return lambda r: self.value(r, field) in values
        raw = self._next()
        literal = _literal(raw)
        if op == "LIKE":
            pattern = re.compile(_like_regex(raw[1:-1]), re.IGNORECASE)
            return lambda r: bool(pattern.fullmatch(str(self.value(r, field) or "")))
        compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a is not None and _cmp(a, b) >= 0,
                   "<=": lambda a, b: a is not None and _cmp(a, b) <= 0}[op]  # fmt: skip
        return lambda r: compare(self.value(r, field), literal)


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return {"true": True, "false": False, "null": None}.get(token.lower(), token)


def _cmp(stored: Any, literal: Any) -> int:
    """Dates and datetimes compared as UTC text of the literal's precision (day or second)."""
    a, b = str(stored), str(literal)
    width = 10 if len(b) == 10 else 19
    return (a[:width] > b[:width]) - (a[:width] < b[:width])


def _like_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)
