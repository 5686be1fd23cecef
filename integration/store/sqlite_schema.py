"""The SQLite store's tables: events and actions (the outbox), the review ledger's, and the
one migration older databases need. Run at every start (idempotent), under the write lock."""
from __future__ import annotations

import sqlite3

from integration.store.sqlite_ledger import LEDGER_SCHEMA

# `seq` (the rowid) orders rows by arrival, so new rows append to the table's last pages and
# listings newest-first walk it backwards (no index on received_at: one less per insert);
# `key` is unique for de-duplication. Databases made with the older `key TEXT PRIMARY KEY`
# table keep working: every statement below names `key` and `rowid`, never `seq`.
# `body` is the raw notification where `source` says where it came from (the ack stores it so;
# reading normalises it), else the normalised event (rows written before `source` existed).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    source TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (status, next_attempt_at);
DROP INDEX IF EXISTS events_recent;
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    event_key TEXT NOT NULL,
    rule TEXT NOT NULL,
    op TEXT NOT NULL,
    record_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    status TEXT NOT NULL,
    crm_id TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    sends INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS actions_event ON actions (event_key);
CREATE INDEX IF NOT EXISTS actions_recent ON actions (created_at);
"""


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    conn.executescript(LEDGER_SCHEMA)
    _add_source_column(conn)


def _add_source_column(conn: sqlite3.Connection) -> None:
    """Databases made before events were stored raw get the (nullable) `source` column."""
    if any(column[1] == "source" for column in conn.execute("PRAGMA table_info(events)")):
        return
    try:
        conn.execute("ALTER TABLE events ADD COLUMN source TEXT")
    except sqlite3.OperationalError:  # another process added it in between
        if not any(column[1] == "source" for column in conn.execute("PRAGMA table_info(events)")):
            raise
