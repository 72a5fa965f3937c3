"""The pure core: plain functions over plain data, no I/O.

Nothing here imports aiohttp, pyairtable, gidgethub, requests, sqlite3 or asyncio (checked by
``tests/core/test_purity.py``): issue state → Status, Project completion and progress, command
parsing, the name matcher, label rules, the renewal decisions and the audit's rules.
"""
