"""Webhook handlers, one module and one gidgethub ``Router`` per concern, combined here."""

from gidgethub.routing import Router

from bot.handlers import comment_events, issue_events, label_events, sub_issue_events


def make_router() -> Router:
    """Every handler's router, combined."""
    return Router(
        issue_events.router,
        comment_events.router,
        label_events.router,
        sub_issue_events.router,
    )
