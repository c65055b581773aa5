"""Loopback receivers for the demo and the tests: a JSON webhook and an SMTP server.

``WebhookReceiver`` records every POST with its path and idempotency key, and can go down and
come back on the same port (to show retries); ``MailReceiver`` (aiosmtpd) records every
message.  ``routing_for`` writes a routing file whose receivers point at them.
"""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from dataclasses import dataclass
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from deploy.kafka_local import free_port
from domain.alerts.routing import DEFAULT_ROUTING

KEY_HEADER = "X-Idempotency-Key"


@dataclass(frozen=True)
class Received:
    receiver: str  # the webhook path (receiver name) or the mail's recipient
    key: str
    title: str
    body: str
    at: float = 0.0  # when it arrived (epoch seconds)


class WebhookReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()  # kept-open connections, closed by ``stop``
        self.connections = 0  # how many connections senders opened

    def start(self) -> WebhookReceiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps a sender's connection open between posts

            def setup(self) -> None:
                super().setup()
                with owner._lock:
                    owner._open.add(self.connection)
                    owner.connections += 1

            def finish(self) -> None:
                super().finish()
                with owner._lock:
                    owner._open.discard(self.connection)

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                item = Received(
                    unquote(self.path.split("?")[0].strip("/")),
                    self.headers.get(KEY_HEADER, ""),
                    body.get("title", ""),
                    body.get("message", ""),
                    time.time(),
                )
                with owner._lock:
                    owner.received.append(item)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.allow_reuse_address = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down as a stopped server does: no new connections, and the open ones closed."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the sender closed it already
            self._open.clear()

    def items(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class MailReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self._controller = None

    def start(self) -> MailReceiver:
        from aiosmtpd.controller import Controller

        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
                msg = email.message_from_bytes(envelope.content)
                subject = str(make_header(decode_header(msg.get("Subject", ""))))
                part = (
                    msg.get_payload(decode=True)
                    if not msg.is_multipart()
                    else msg.get_payload(0).get_payload(decode=True)
                )
                body = (part or b"").decode("utf-8", "replace")
                key = body.rsplit("通知编号 ", 1)[-1].rstrip("）\n ") if "通知编号" in body else ""
                owner.received.append(
                    Received(",".join(envelope.rcpt_tos), key, subject, body, time.time())
                )
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def routing_for(
    webhook: WebhookReceiver, mail: MailReceiver, path: Path, fast_retries: bool = False
) -> Path:
    """The packaged routing with its receivers pointed at these loopback servers."""
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    text = text.replace("127.0.0.1:18081", f"127.0.0.1:{webhook.port}")
    text = text.replace("127.0.0.1:18025", f"127.0.0.1:{mail.port}")
    if fast_retries:
        text = text.replace(
            "delivery: {retry_first: 5s, retry_max: 5m, attempts: 16}",
            "delivery: {retry_first: 1s, retry_max: 3s, attempts: 200}",
        )
    path.write_text(text, encoding="utf-8")
    return path
