"""Stand-ins for what the bot talks to, over real HTTP: GitHub (:mod:`.github`) and a
fault-injecting reverse proxy (:mod:`.fault_proxy`); the embedded Airtable is
:mod:`bot.airtable_local`."""
