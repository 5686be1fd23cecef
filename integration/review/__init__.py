"""The review loop: a recorded call is matched to its deal and attached, the rep
self-assesses, peers review by rotation, and overdue reviews get one nudge a day.

- `settings`: the `[tenants.rules.game_film]` table;
- `tasks`: pure builders of the CRM commands (call, review tasks, reminders);
- `flow`: the per-batch step (CRM reads, ledger writes) that decides what to plan;
- `tick`: the hourly work (peers after grace, unmatched retries, the alarm clock).
The rule itself (`integration.rules.game_film`) only wires these into the worker.
"""
