"""Sending one notification, with the idempotency key the receiver can use to drop a duplicate.

Every channel is an apprise URL (webhook/JSON, e-mail, DingTalk, WeCom and Feishu bots).  A JSON
webhook (``json://``, ``jsons://``) is sent here on a kept-open HTTP connection, with the request
apprise's JSON plugin would make (the same body, headers, query and auth, read from apprise's own
parse of the URL): apprise opens a new connection for every send, which cost 1.5-1.7 ms of CPU
per notification against 0.5 ms here (the loopback receiver included).  Every other channel
goes through apprise, one apprise object per sending thread and receiver URL, built once.

Nothing retries here and nothing raises for a refused connection: ``send`` returns (delivered,
detail); the outbox owns retries and giving up.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

import apprise
import urllib3

from domain.alerts.message import mask_personal

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
_HTTP_SCHEMES = ("json://", "jsons://")  # the channels that send HTTP headers
_this_thread = threading.local()


def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
    """Send once; (delivered, what happened).  The key is also in the text, for channels
    that carry no headers (e-mail, group bots)."""
    message = f"{body}\n（通知编号 {key}）"
    if url.startswith(_HTTP_SCHEMES):
        webhook = _webhook_for(url)
        if webhook is None:
            return False, "not a valid apprise URL"
        return webhook.post(title, message, key)
    notifier = _apprise_for(url)
    if notifier is None:
        return False, "not a valid apprise URL"
    logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs message text on failure
    if notifier.notify(title=title, body=message):
        return True, "delivered"
    return False, mask_personal(f"refused or unreachable ({url.split('://', 1)[0]})")


def _apprise_for(url: str) -> apprise.Apprise | None:
    """This thread's apprise object for ``url``; None if apprise cannot send to it."""
    built = _this_thread.__dict__.setdefault("by_url", {})
    if url not in built:
        notifier = apprise.Apprise()
        built[url] = notifier if notifier.add(url) else None
    return built[url]


@dataclass(frozen=True)
class Webhook:
    """A JSON webhook, called as apprise's JSON plugin calls it."""

    method: str
    url: str
    headers: dict[str, str]
    payload_extras: dict[str, str]
    version: str
    verify: bool
    timeout: urllib3.Timeout
    redirects: bool

    @classmethod
    def from_url(cls, url: str) -> Webhook | None:
        """apprise's reading of a ``json://`` URL; None if it is not a valid one."""
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            return None
        address = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
        if isinstance(plugin.port, int):
            address += f":{plugin.port}"
        address += plugin.fullpath
        if plugin.params:
            address += "?" + urlencode(plugin.params)
        headers = {"User-Agent": plugin.app_id, "Content-Type": "application/json"}
        headers.update(plugin.headers)
        if plugin.user:
            basic = f"{plugin.user}:{plugin.password or ''}"
            headers["Authorization"] = urllib3.util.make_headers(basic_auth=basic)["authorization"]
        connect, read = plugin.request_timeout
        return cls(
            method=plugin.method,
            url=address,
            headers=headers,
            payload_extras=dict(plugin.payload_extras),
            version=plugin.json_version,
            verify=plugin.verify_certificate,
            timeout=urllib3.Timeout(connect=connect, read=read),
            redirects=plugin.redirects,
        )

    def payload(self, title: str, message: str) -> bytes:
        """The JSON body, field for field as apprise builds it (extras rename, drop or add)."""
        fields: dict = {
            "version": self.version,
            "title": title,
            "message": message,
            "attachments": [],
            "type": apprise.NotifyType.INFO.value,
        }
        for name, value in self.payload_extras.items():
            if name in fields:
                moved = fields.pop(name)
                if value:
                    fields[value] = moved
            else:
                fields[name] = value
        return json.dumps(fields).encode()

    def post(self, title: str, message: str, key: str) -> tuple[bool, str]:
        try:
            response = _connections(self.verify).request(
                self.method,
                self.url,
                body=self.payload(title, message),
                headers={**self.headers, IDEMPOTENCY_HEADER: key},
                timeout=self.timeout,
                retries=_FOLLOW_REDIRECTS if self.redirects else False,
            )
        except urllib3.exceptions.HTTPError as exc:
            return False, mask_personal(f"refused or unreachable (json: {type(exc).__name__})")
        if 200 <= response.status < 300:
            return True, "delivered"
        return False, f"refused (json: HTTP {response.status})"


_webhook_for = functools.lru_cache(maxsize=4096)(Webhook.from_url)


def prepare(urls: Iterable[str]) -> None:
    """Read the receivers' URLs before the first alert: apprise loads its plugins on its
    first parse (0.1 s here), which would otherwise delay the first notification."""
    for url in urls:
        if url.startswith(_HTTP_SCHEMES):
            _webhook_for(url)
        else:
            apprise.Apprise.instantiate(url)


# no retry of a send (the outbox retries, with its back-off); redirects followed, as apprise does
_FOLLOW_REDIRECTS = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10)


@functools.cache
def _connections(verify: bool) -> urllib3.PoolManager:
    """The process's kept-open HTTP connections, shared by the sending threads: one pool per
    receiver host, and a connection the receiver has closed is dropped before it is reused."""
    return urllib3.PoolManager(
        num_pools=64, maxsize=16, cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE"
    )
