"""Keeping Airtable true to GitHub: the reconcile of one issue, linking, announcements, renewal,
and the sweep that runs the reconcile over a whole base (the ``sync`` command and ``serve``'s
schedule)."""
