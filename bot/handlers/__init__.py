"""Webhook handlers, one module and one gidgethub ``Router`` per concern, combined here."""

from gidgethub.routing import Router

from bot.handlers import issue_events


def make_router() -> Router:
    """Every handler's router, combined."""
    return Router(issue_events.router)
