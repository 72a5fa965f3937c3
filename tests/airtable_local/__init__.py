"""Tests of the embedded Airtable (:mod:`bot.airtable_local`), one file per module, through
the real pyairtable over HTTP where a module is reached that way."""
