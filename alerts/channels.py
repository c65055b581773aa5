"""Sending one notification through apprise (webhook/JSON, e-mail, DingTalk, WeCom and Feishu
bots are all apprise URLs), with the idempotency key the receiver can use to drop a duplicate.

apprise retries nothing and raises nothing for a refused connection: ``send`` turns its result
into (delivered, detail); the outbox owns retries and giving up.
"""

from __future__ import annotations

import logging

import apprise

from domain.alerts.message import mask_personal

IDEMPOTENCY_HEADER = "X-Idempotency-Key"


def url_with_key(url: str, key: str) -> str:
    """The URL with the key as a header, for the channels that send HTTP (json://)."""
    if not url.startswith(("json://", "jsons://")):
        return url
    return f"{url}{'&' if '?' in url else '?'}+{IDEMPOTENCY_HEADER}={key}"


def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
    """Send once; (delivered, what happened).  The key is also in the text, for channels
    that carry no headers (e-mail, group bots)."""
    notifier = apprise.Apprise()
    if not notifier.add(url_with_key(url, key)):
        return False, "not a valid apprise URL"
    logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs message text on failure
    result = notifier.notify(title=title, body=f"{body}\n（通知编号 {key}）")
    if result:
        return True, "delivered"
    return False, mask_personal(f"refused or unreachable ({url.split('://', 1)[0]})")
