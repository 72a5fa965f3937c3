"""The fault proxy (``tests/fault_proxy.py``) does what it is told, on the real wire.

Every test talks through the proxy with the real pyairtable client to the embedded
Airtable-compatible server, and checks both what the client met (the status, the body, the
exception) and what reached the server (the record as stored, read straight from it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pyairtable
import pytest
import requests
from pyairtable.api.retrying import retry_strategy

from bot.airtable_local.thread import LocalAirtable
from tests.constants import DELIVERABLES, DEMO_PROJECT, PROJECTS
from tests.fault_fixtures import ProxiedAirtable, StartProxy
from tests.standins.fault_proxy import FaultProxy, airtable_error

PROJECT_WRITES = r"/Projects(/|$)"  # batch (table) and single-record (table/rec...) writes


def project(at: ProxiedAirtable) -> dict[str, Any]:
    """The demo Project as the server stores it (read around the proxy)."""
    [record] = at.direct(PROJECTS).all()
    return dict(record)


def refused_with(call: Callable[[], object]) -> requests.Response:
    """The HTTP error answer ``call`` met."""
    with pytest.raises(requests.HTTPError) as raised:
        call()
    assert raised.value.response is not None
    return raised.value.response


def test_passes_requests_through_unchanged(proxied_airtable: ProxiedAirtable) -> None:
    table = proxied_airtable.table(DELIVERABLES)

    created = table.create({"Name": "Write the runbook", "Status": "Todo"})
    names = sorted(r["fields"]["Name"] for r in table.all())

    assert "Write the runbook" in names and len(names) == 4
    assert proxied_airtable.direct(DELIVERABLES).get(created["id"])["fields"]["Name"] == (
        "Write the runbook"
    )
    # The bearer token is forwarded: a wrong one is refused by the server, not the proxy.
    base_id = proxied_airtable.airtable.base_id
    assert base_id is not None
    wrong = pyairtable.Api("not-the-token", endpoint_url=proxied_airtable.proxy.url)
    answer = refused_with(lambda: wrong.table(base_id, PROJECTS).all())
    assert answer.status_code == 401
    stats = proxied_airtable.proxy.stats()
    assert (stats.passed, stats.faulted) == (stats.by_outcome["passed"], 0)
    assert stats.passed >= 3


@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        pytest.param(503, None, "SERVICE_UNAVAILABLE", id="503"),
        pytest.param(
            422,
            airtable_error("INVALID_VALUE_FOR_COLUMN", 'Field "Completed" cannot accept it'),
            "INVALID_VALUE_FOR_COLUMN",
            id="422",
        ),
    ],
)
def test_answers_a_status_n_times_for_a_method_and_path(
    proxied_airtable: ProxiedAirtable, status: int, body: Any, error_type: str
) -> None:
    proxy = proxied_airtable.proxy
    projects = proxied_airtable.table(PROJECTS)
    deliverables = proxied_airtable.table(DELIVERABLES)
    record_id = project(proxied_airtable)["id"]
    proxy.fail(status, method="PATCH", path=PROJECT_WRITES, times=2, body=body)

    for _ in range(2):
        answer = refused_with(lambda: projects.update(record_id, {"Status": "Complete"}))
        assert answer.status_code == status
        assert answer.json()["error"]["type"] == error_type
        assert project(proxied_airtable)["fields"]["Status"] == "In progress"  # not forwarded
    # Reads of the same table, and writes of another table, are not the rule's.
    assert projects.get(record_id)["fields"]["Name"] == DEMO_PROJECT
    [first, *_] = deliverables.all()
    deliverables.update(first["id"], {"Status": "Blocked"})
    # Its two uses are spent: the third write reaches the server.
    projects.update(record_id, {"Status": "Complete"})

    assert project(proxied_airtable)["fields"]["Status"] == "Complete"
    assert [s.outcome for s in proxy.seen("PATCH", PROJECT_WRITES)] == [str(status)] * 2 + [
        "passed"
    ]
    assert proxy.stats().by_outcome[str(status)] == 2


def test_a_rule_without_times_lasts_until_cleared(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    projects = proxied_airtable.table(PROJECTS)
    record_id = project(proxied_airtable)["id"]
    proxy.fail(503, method="PATCH", path=PROJECT_WRITES, times=None)

    for _ in range(5):
        assert refused_with(lambda: projects.update(record_id, {"Status": "Complete"})).status_code
    proxy.clear()
    projects.update(record_id, {"Status": "Complete"})

    assert proxy.stats().by_outcome["503"] == 5
    assert project(proxied_airtable)["fields"]["Status"] == "Complete"


def test_a_rule_with_seconds_expires(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    projects = proxied_airtable.table(PROJECTS)
    proxy.fail(503, times=None, seconds=0.5)

    assert refused_with(projects.all).status_code == 503
    time.sleep(0.6)

    assert len(projects.all()) == 1


def test_storm_429_answers_airtables_rate_limit_and_pyairtable_rides_it_out(
    proxied_airtable: ProxiedAirtable,
) -> None:
    proxy = proxied_airtable.proxy
    bare = proxied_airtable.table(PROJECTS)
    # pyairtable's own default: retry 429s with exponential backoff.
    patient = proxied_airtable.table(PROJECTS, retry_strategy=retry_strategy())
    proxy.storm_429(seconds=1.0)

    answer = refused_with(bare.all)
    assert answer.status_code == 429
    assert answer.json() == {
        "errors": [
            {
                "error": "RATE_LIMIT_REACHED",
                "message": "Rate limit exceeded. Please try again later",
            }
        ]
    }
    began = time.monotonic()
    assert len(patient.all()) == 1  # retried through the storm
    assert time.monotonic() - began >= 0.8  # it had to wait the storm out

    assert proxy.stats().by_outcome["429"] >= 2
    assert proxy.seen()[-1].outcome == "passed"


def test_hang_accepts_and_never_answers_until_cleared(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    record_id = project(proxied_airtable)["id"]
    impatient = proxied_airtable.table(PROJECTS, timeout=(2, 0.5))
    proxy.hang(method="PATCH", path=PROJECT_WRITES)

    began = time.monotonic()
    with pytest.raises(requests.ReadTimeout):  # connected, then no answer
        impatient.update(record_id, {"Status": "Complete"})
    assert time.monotonic() - began >= 0.5
    # Held requests are never forwarded; other requests pass meanwhile.
    assert project(proxied_airtable)["fields"]["Status"] == "In progress"
    assert impatient.get(record_id)["id"] == record_id

    # A request held when the rule is cleared loses its connection, unanswered.
    errors: list[BaseException] = []

    def held() -> None:
        try:
            proxied_airtable.table(PROJECTS).update(record_id, {"Status": "Complete"})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=held)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()
    proxy.clear()
    thread.join(5)

    assert len(errors) == 1 and isinstance(errors[0], requests.ConnectionError)
    assert project(proxied_airtable)["fields"]["Status"] == "In progress"
    assert proxy.stats().by_outcome["hang"] == 2
    proxied_airtable.table(PROJECTS).update(record_id, {"Status": "Complete"})
    assert project(proxied_airtable)["fields"]["Status"] == "Complete"


def test_delay_answers_late_and_forwards(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    record_id = project(proxied_airtable)["id"]
    proxy.delay(0.6, method="PATCH", path=PROJECT_WRITES)

    began = time.monotonic()
    proxied_airtable.table(PROJECTS).update(record_id, {"Status": "Complete"})

    assert time.monotonic() - began >= 0.6
    assert project(proxied_airtable)["fields"]["Status"] == "Complete"
    assert proxy.stats().by_outcome["delay"] == 1


def test_drop_closes_the_connection_without_an_answer(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    projects = proxied_airtable.table(PROJECTS)
    record_id = project(proxied_airtable)["id"]
    proxy.drop(method="PATCH", path=PROJECT_WRITES, times=2)

    for _ in range(2):
        with pytest.raises(requests.ConnectionError) as raised:
            projects.update(record_id, {"Status": "Complete"})
        assert "reset" in str(raised.value).lower() or "aborted" in str(raised.value).lower()
    assert project(proxied_airtable)["fields"]["Status"] == "In progress"  # never forwarded
    projects.update(record_id, {"Status": "Complete"})

    assert project(proxied_airtable)["fields"]["Status"] == "Complete"
    assert proxy.stats().by_outcome["drop"] == 2


def test_refuse_stops_listening_and_accept_listens_again_on_the_same_port(
    proxied_airtable: ProxiedAirtable,
) -> None:
    proxy = proxied_airtable.proxy
    projects = proxied_airtable.table(PROJECTS)
    port = proxy.port
    assert len(projects.all()) == 1  # a keep-alive connection is open

    proxy.refuse()

    assert not proxy.listening
    for _ in range(2):
        with pytest.raises(requests.ConnectionError) as raised:
            projects.all()
        assert "Connection refused" in str(raised.value)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    stats = proxy.stats()
    assert stats.refusals == 1 and stats.connections_aborted >= 1

    proxy.accept()

    assert proxy.listening and proxy.port == port
    assert len(projects.all()) == 1


def test_upstream_down_is_a_502_and_a_new_upstream_can_be_set(
    fault_proxy: StartProxy, local_airtable_factory: Callable[..., LocalAirtable], tmp_path: Any
) -> None:
    db = tmp_path / "airtable.sqlite3"
    first = local_airtable_factory(seed="demo", db_path=db)
    proxy = fault_proxy(first.url)
    assert first.base_id is not None
    table = pyairtable.Api(first.token, endpoint_url=proxy.url).table(first.base_id, PROJECTS)
    record_id = table.all()[0]["id"]
    table.update(record_id, {"Status": "Complete"})
    first.stop()

    assert refused_with(table.all).status_code == 502
    assert proxy.stats().upstream_errors == 1

    # The same data, served again by another server: the proxy forwards there.
    second = local_airtable_factory(seed="demo", db_path=db)
    proxy.upstream = second.url
    assert table.get(record_id)["fields"]["Status"] == "Complete"


def test_rules_and_counters_are_thread_safe(proxied_airtable: ProxiedAirtable) -> None:
    proxy = proxied_airtable.proxy
    threads, each = 8, 25
    proxy.fail(503, method="GET", path=PROJECT_WRITES, times=50)
    outcomes: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        table = proxied_airtable.table(PROJECTS)
        for _ in range(each):
            try:
                table.all()
                status = 200
            except requests.HTTPError as exc:
                assert exc.response is not None
                status = exc.response.status_code
            with lock:
                outcomes.append(status)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    # Rules added and cleared from yet another thread while the clients run.
    for _ in range(20):
        rule = proxy.fail(418, method="DELETE", times=None)
        proxy.clear(rule)
    for worker in workers:
        worker.join(30)

    assert len(outcomes) == threads * each
    assert outcomes.count(503) == 50
    assert outcomes.count(200) == threads * each - 50
    stats = proxy.stats()
    assert (stats.passed, stats.faulted) == (threads * each - 50, 50)
    assert len(proxy.seen("GET")) == threads * each


def test_standalone_proxy_stops_cleanly(local_airtable: LocalAirtable) -> None:
    with FaultProxy(local_airtable.url) as proxy:
        url = proxy.url
        proxy.hang()  # a request held while the proxy stops ends too
        errors: list[BaseException] = []

        def held() -> None:
            try:
                requests.get(url + "/v0/meta/bases", timeout=5)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=held)
        thread.start()
        time.sleep(0.2)
    thread.join(5)

    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], requests.ConnectionError)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
