"""Sending notifications to a real loopback webhook: the request a JSON webhook gets is the one
apprise would make, connections are kept open between sends, and a receiver that went down and
came back gets the next notifications."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apprise
import pytest

from alerts.channels import IDEMPOTENCY_HEADER, send
from ews.receivers import WebhookReceiver

_TRANSPORT = {"host", "accept", "accept-encoding", "connection", "content-length"}


class Recorder:
    """An HTTP/1.1 server that records each request and answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {
                    k.lower(): v for k, v in self.headers.items() if k.lower() not in _TRANSPORT
                }
                owner.requests.append((self.command, self.path, headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def _through_apprise(url: str, title: str, body: str, key: str) -> None:
    notifier = apprise.Apprise()
    assert notifier.add(url)
    notifier[0].headers[IDEMPOTENCY_HEADER] = key
    assert notifier.notify(title=title, body=f"{body}\n（通知编号 {key}）")


@pytest.mark.parametrize(
    "path",
    [
        "/labour",
        # basic auth, a query parameter, a renamed, a dropped and an added JSON field, a header
        "/hooks/ews?-token=abc&:title=subject&:type=&:county=wuyuan&+X-Source=ews",
    ],
)
def test_a_webhook_gets_the_request_apprise_would_send(recorder: Recorder, path: str) -> None:
    auth = "duty:s3cret@" if "?" in path else ""
    url = f"json://{auth}127.0.0.1:{recorder.port}{path}"
    title, body = "红色预警：拖欠农民工工资", "周庄镇 60 人讨薪，扬言赴京上访。\n请立即处置。"
    _through_apprise(url, title, body, "alert-1:labour:1")
    assert send(url, title, body, "alert-1:labour:1") == (True, "delivered")
    by_apprise, by_us = recorder.requests
    assert by_us == by_apprise
    assert by_us[2][IDEMPOTENCY_HEADER.lower()] == "alert-1:labour:1"


def test_sends_reuse_kept_open_connections() -> None:
    receiver = WebhookReceiver().start()
    try:
        url = f"json://127.0.0.1:{receiver.port}/labour"
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: send(url, "t", "b", f"k{i}"), range(200)))
        assert results == [(True, "delivered")] * 200
        assert sorted(r.key for r in receiver.items()) == sorted(f"k{i}" for i in range(200))
        assert receiver.connections <= 8  # not one connection per notification
    finally:
        receiver.stop()


def test_a_receiver_that_went_down_and_came_back_gets_the_next_notification() -> None:
    receiver = WebhookReceiver().start()
    url = f"json://127.0.0.1:{receiver.port}/township"
    assert send(url, "t", "b", "before") == (True, "delivered")
    receiver.stop()
    delivered, detail = send(url, "t", "b", "while-down")
    assert not delivered and detail.startswith("refused or unreachable")
    receiver.start()  # same port; the connection kept from before is gone
    try:
        assert send(url, "t", "b", "after") == (True, "delivered")
        assert [r.key for r in receiver.items()] == ["before", "after"]
    finally:
        receiver.stop()


def test_a_receiver_answering_an_error_is_a_failed_send() -> None:
    failing = Recorder(status=503)
    try:
        url = f"json://127.0.0.1:{failing.port}/desk"
        assert send(url, "t", "b", "k") == (False, "refused (json: HTTP 503)")
    finally:
        failing.close()


def test_an_url_apprise_cannot_read_is_refused_without_sending() -> None:
    assert send("json://", "t", "b", "k") == (False, "not a valid apprise URL")
    assert send("nosuchscheme://x", "t", "b", "k") == (False, "not a valid apprise URL")
