"""deliverables-bot: keeps an Airtable base of delivery work true to GitHub issues."""

__version__ = "0.1.0"
