"""airtable_local."""
