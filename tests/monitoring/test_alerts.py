"""Alerts: recorded first, then POSTed to a webhook (a real HTTP server on loopback) with a
timeout and retries; a webhook that is down, slow or failing loses no alert."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loopml.governance.audit import list_events
from loopml.monitoring.alerts import get_alerts, list_alerts, raise_alerts
from loopml.store import Store

from ..helpers import free_port
from .support import DEPLOYMENT

BREACHES = [
    {"rule": "drift", "metric": "dataset_drift", "value": 1.0},
    {"rule": "f1 < 0.75", "metric": "f1", "value": 0.6123456},
]


@dataclass
class Webhook:
    """A webhook receiver on loopback: what it was sent, and what the store held then."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    seen: list[list[str]] = field(default_factory=list)  # deliveries stored at each POST
    release: threading.Event = field(default_factory=threading.Event)


def _serve(store: Store, status: int, delay_s: float = 0.0) -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.bodies.append(json.loads(body))
            hook.seen.append([alert.delivery for alert in list_alerts(store)])
            if delay_s:
                hook.release.wait(delay_s)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/loopml"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def webhook(store: Store) -> Callable[..., Webhook]:
    """``webhook(status, delay_s=0)``: a receiver answering ``status`` after ``delay_s``."""
    opened: list[Iterator[Webhook]] = []

    def start(status: int = 200, delay_s: float = 0.0) -> Webhook:
        serving = _serve(store, status, delay_s)
        opened.append(serving)
        return next(serving)

    yield start
    for serving in opened:
        next(serving, None)


def test_alerts_without_a_webhook_are_recorded_and_audited(store: Store) -> None:
    alerts = raise_alerts(store, DEPLOYMENT, BREACHES)

    assert [alert.rule for alert in alerts] == ["drift", "f1 < 0.75"]
    assert [alert.value for alert in alerts] == [1.0, pytest.approx(0.6123456)]
    assert {(a.delivery, a.attempts, a.delivery_error) for a in alerts} == {("none", 0, None)}
    assert alerts[1].message == "churn-prod: f1 < 0.75 (value 0.6123)"
    assert list_alerts(store, DEPLOYMENT) == list(reversed(alerts))  # newest first
    assert list_alerts(store, "other") == []
    audited = list_events(store, action="monitor.alert", object_id=DEPLOYMENT)
    assert sorted(event.after["alert"] for event in audited) == [a.id for a in alerts]
    assert {event.after["rule"] for event in audited} == {"drift", "f1 < 0.75"}


def test_no_breach_no_alert(store: Store) -> None:
    assert raise_alerts(store, DEPLOYMENT, [], webhook="http://127.0.0.1:9/") == []
    assert list_alerts(store) == []


def test_a_webhook_that_answers_gets_each_alert_once(
    store: Store, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(200)
    alerts = raise_alerts(store, DEPLOYMENT, BREACHES, webhook=hook.url)

    assert [(a.delivery, a.attempts, a.delivery_error) for a in alerts] == [
        ("delivered", 1, None),
        ("delivered", 1, None),
    ]
    assert [body["source"] for body in hook.bodies] == ["loopml", "loopml"]
    sent = [body["alert"] for body in hook.bodies]
    assert [(a["id"], a["rule"], a["deployment"]) for a in sent] == [
        (alerts[0].id, "drift", DEPLOYMENT),
        (alerts[1].id, "f1 < 0.75", DEPLOYMENT),
    ]
    # Both alerts were in the store before the first POST went out.
    assert hook.seen[0] == ["pending", "pending"]
    assert get_alerts(store, [alerts[0].id]) == [alerts[0]]


def test_a_slow_webhook_times_out_and_the_alert_is_kept(
    store: Store, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(200, delay_s=5.0)
    (alert,) = raise_alerts(
        store, DEPLOYMENT, BREACHES[:1], webhook=hook.url, timeout_s=0.2, attempts=3
    )

    assert (alert.delivery, alert.attempts) == ("failed", 3)
    assert alert.delivery_error and "timed out" in alert.delivery_error
    assert len(hook.bodies) == 3
    assert hook.seen[0] == ["pending"]
    assert list_alerts(store) == [alert]


def test_a_failing_webhook_is_retried_then_marked_failed(
    store: Store, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(500)
    (alert,) = raise_alerts(store, DEPLOYMENT, BREACHES[1:], webhook=hook.url)

    assert (alert.delivery, alert.attempts, alert.delivery_error) == ("failed", 3, "HTTP 500")
    assert len(hook.bodies) == 3
    assert list_alerts(store)[0].delivery == "failed"


def test_a_webhook_nobody_listens_on_fails_with_the_reason(store: Store) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    (alert,) = raise_alerts(store, DEPLOYMENT, BREACHES[:1], webhook=url, attempts=1)

    assert (alert.delivery, alert.attempts) == ("failed", 1)
    assert "ConnectionRefused" in alert.delivery_error
