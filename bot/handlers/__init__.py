"""Webhook handlers, one module and one gidgethub ``Router`` per concern, combined here.

``HANDLERS`` declares the order in which a delivery's handlers run (the router calls the
handlers registered for one event in the order their routers are combined), so that renaming
a module never changes it.
"""

from gidgethub.routing import Router

from bot.handlers import comments, issues, labels, sub_issues

HANDLERS = (issues, labels, comments, sub_issues)


def make_router() -> Router:
    """Every handler's router, combined in the order of ``HANDLERS``."""
    return Router(*(handler.router for handler in HANDLERS))
