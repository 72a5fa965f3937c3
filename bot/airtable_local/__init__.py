"""The embedded Airtable-compatible server: Airtable's REST API over SQLite, for the demo and tests.

- :mod:`~bot.airtable_local.store`: ``Store``, the bases and records (SQLite + memory);
- :mod:`~bot.airtable_local.server`: ``make_app`` and ``run``, the HTTP routes pyairtable uses;
- :mod:`~bot.airtable_local.thread`: ``LocalAirtable``, the server in a background thread;
- :mod:`~bot.airtable_local.webhooks` (``WebhookRegistry``: Airtable's webhooks, their
  payloads recorded from the store's commits, their pings),
  :mod:`~bot.airtable_local.webhook_specs` (specifications and payloads, pure) and
  :mod:`~bot.airtable_local.webhook_routes` (the webhook routes);
- :mod:`~bot.airtable_local.rows` (rows and write transactions in memory),
  :mod:`~bot.airtable_local.reading` (filters, sorting, pages, record JSON),
  :mod:`~bot.airtable_local.writing` (values, links, upserts), :mod:`~bot.airtable_local.values`
  (cell values per field type), :mod:`~bot.airtable_local.schema`,
  :mod:`~bot.airtable_local.query`, :mod:`~bot.airtable_local.ratelimit`,
  :mod:`~bot.airtable_local.seeds`, :mod:`~bot.airtable_local.errors` and
  :mod:`~bot.airtable_local.formula`: one concern each;
- ``data/``: the schema (README: The Airtable base) and the demo base, as JSON.
"""

from bot.airtable_local.seeds import DEFAULT_BASE_IDS

DEMO_BASE_ID = DEFAULT_BASE_IDS["demo"]
"""The id of the demo base (README: Quick start)."""
