"""Sending one notification through apprise (webhook/JSON, e-mail, DingTalk, WeCom and Feishu
bots are all apprise URLs), with the idempotency key the receiver can use to drop a duplicate.

apprise retries nothing and raises nothing for a refused connection: ``send`` turns its result
into (delivered, detail); the outbox owns retries and giving up.

Each sending thread builds its apprise object for a receiver's URL once and keeps it (parsing
the URL and loading the plugin cost more than a send on loopback); the key goes into that
object's headers before each send.
"""

from __future__ import annotations

import logging
import threading

import apprise

from domain.alerts.message import mask_personal

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
_HTTP_SCHEMES = ("json://", "jsons://")  # the channels that send HTTP headers
_this_thread = threading.local()


def _apprise_for(url: str) -> tuple[apprise.Apprise, object] | None:
    """This thread's apprise object for ``url`` and its one plugin; None if ``url`` is not one
    apprise can send to."""
    built = _this_thread.__dict__.setdefault("by_url", {})
    if url not in built:
        plugin = apprise.Apprise.instantiate(url)
        notifier = apprise.Apprise()
        built[url] = (notifier, plugin) if plugin and notifier.add(plugin) else None
    return built[url]


def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
    """Send once; (delivered, what happened).  The key is also in the text, for channels
    that carry no headers (e-mail, group bots)."""
    found = _apprise_for(url)
    if found is None:
        return False, "not a valid apprise URL"
    notifier, plugin = found
    if url.startswith(_HTTP_SCHEMES):
        plugin.headers[IDEMPOTENCY_HEADER] = key
    logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs message text on failure
    result = notifier.notify(title=title, body=f"{body}\n（通知编号 {key}）")
    if result:
        return True, "delivered"
    return False, mask_personal(f"refused or unreachable ({url.split('://', 1)[0]})")
