"""Intake: deliveries in, journaled durably, handed to the handlers; it knows no handler.

- ``server``: ``POST /webhook`` (verify, journal with ``group_commit``, answer 202) and the
  probes; ``recovery``: deliveries GitHub logged as failed, read back and journaled.
- ``journal`` (the delivery queue), with ``journal_schema`` (the file, its migrations),
  ``journal_state`` (meta values, watermarks, issues not visible) and ``journal_rows``.
- ``worker``: claims due deliveries, coalesces per issue, runs the router it is given,
  retries; ``delivery_context``: the delivery id on every log line logged meanwhile.
"""
