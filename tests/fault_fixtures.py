"""Pytest fixtures for fault injection: a started :class:`~tests.standins.fault_proxy.FaultProxy`.

Loaded as a plugin from ``tests/conftest.py`` (``pytest_plugins``):

- ``fault_proxy``: start proxies in front of any upstream, ``fault_proxy(upstream_url)``;
  every proxy started is stopped at teardown;
- ``proxied_airtable``: the embedded Airtable with the demo base, behind a proxy, with a
  real pyairtable client that goes through the proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyairtable
import pytest

from bot.airtable_local.thread import LocalAirtable
from tests.standins.fault_proxy import FaultProxy

StartProxy = Callable[[str], FaultProxy]


@pytest.fixture
def fault_proxy() -> Iterator[StartProxy]:
    """Start fault proxies: ``proxy = fault_proxy(upstream_url)``; all stop at teardown."""
    started: list[FaultProxy] = []

    def start(upstream: str) -> FaultProxy:
        proxy = FaultProxy(upstream).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()


@dataclass(frozen=True)
class ProxiedAirtable:
    """The embedded Airtable, the proxy in front of it, and clients for either side."""

    airtable: LocalAirtable
    proxy: FaultProxy

    def api(self, **kwargs: object) -> pyairtable.Api:
        """A pyairtable ``Api`` that talks through the proxy (no retries unless asked for)."""
        kwargs.setdefault("retry_strategy", None)
        return pyairtable.Api(self.airtable.token, endpoint_url=self.proxy.url, **kwargs)  # type: ignore[arg-type]

    def table(self, name: str, **kwargs: object) -> pyairtable.Table:
        """A table of the demo base, through the proxy."""
        assert self.airtable.base_id is not None
        return self.api(**kwargs).table(self.airtable.base_id, name)

    def direct(self, name: str) -> pyairtable.Table:
        """A table of the demo base, straight to the server (what is really stored)."""
        return self.airtable.table(name)


@pytest.fixture
def proxied_airtable(local_airtable: LocalAirtable, fault_proxy: StartProxy) -> ProxiedAirtable:
    """The demo base (rate limit off) behind a started fault proxy."""
    return ProxiedAirtable(local_airtable, fault_proxy(local_airtable.url))
