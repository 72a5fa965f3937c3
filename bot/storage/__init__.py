"""Where the bot keeps its state: a SQLite file by default, PostgreSQL with ``DATABASE_URL``.

:mod:`bot.storage.database` is the one interface over both (transactions, reads, versioned
migrations, locks that hold across processes); :mod:`bot.storage.locks` builds the
cross-replica locks and the leader election for scheduled work on it. The journal, the
watermarks, the cursors and the request budgets are written against that interface.
"""
