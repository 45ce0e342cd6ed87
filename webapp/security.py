"""What guards every request before a route sees it: request bodies (size and pace), where a change comes
from (Origin), and the headers every answer carries.

- A Content-Length above the limit is answered 413 (a body up to DRAIN_MAX_BYTES read away first, so the
  client sees the answer rather than a reset connection); a body that stops arriving is answered 408
  after `timeout_s` (it holds no worker thread meanwhile: bodies are read on the event loop).
- A state change (any method but GET/HEAD/OPTIONS) from a browser names its origin; one from another
  origin, or from `null` (a sandboxed frame, a data: page), is refused 403. A same-site page on another
  port counts as another origin: SameSite cookies do not stop it, this does (and the CSRF token, checked
  by the routes, stops the rest).
- The Host header is checked by Starlette's TrustedHostMiddleware (app.py): a DNS-rebinding page that
  reaches this port under its own name is answered 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),  # no other site may embed a recording
    (b"cross-origin-opener-policy", b"same-origin"),
]
DEFAULT_CSP = b"default-src 'none'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


class BodyTooSlow(Exception):
    pass


class BodyTooLarge(Exception):
    pass


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *BASE_HEADERS]})
    await send({"type": "http.response.body", "body": body})


DRAIN_MAX_BYTES = 1 << 20  # a declared body over the limit but under this is read away before the 413


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                if declared <= DRAIN_MAX_BYTES:
                    # read a modest body away first: closing on unread bytes resets the connection, and a
                    # client still sending may see the reset instead of the answer
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(_drain(receive), self.timeout_s)
                await _answer(send, 413, f"request body over {self.max_bytes} bytes")
                return
        received = 0
        started = False

        async def guarded_receive() -> Message:
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except (BodyTooSlow, BodyTooLarge) as exc:
            if not started:
                slow = isinstance(exc, BodyTooSlow)
                await _answer(send, 408 if slow else 413,
                              f"request body not received within {self.timeout_s:g} s" if slow
                              else f"request body over {self.max_bytes} bytes")


async def _drain(receive: Receive) -> None:
    """Read the request body to its end before refusing it: a connection closed on unread bytes is reset,
    and the client may never see the answer. (The body guard inside which this runs bounds its size and pace.)"""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


class OriginGuard:
    """Refuses cross-origin state changes and adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, trusted_origins: Iterable[str] = ()):
        self.app = app
        self.trusted = {n for n in (_netloc(o) for o in trusted_origins) if n}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] not in SAFE_METHODS:
            problem = self.cross_origin(headers)
            if problem:
                await _drain(receive)
                await _answer(send, 403, problem)
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra: list[tuple[bytes, bytes]] = [h for h in BASE_HEADERS if h[0] not in have]
                if b"content-security-policy" not in have:
                    extra.append((b"content-security-policy", DEFAULT_CSP))
                if b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def cross_origin(self, headers: dict[bytes, Any]) -> str | None:
        """Why a change must be refused, or None. Browsers send Origin with every cross-origin POST (and
        Chromium with same-origin ones too); without it, a Referer from elsewhere is refused as well."""
        host = headers.get(b"host", b"").decode("latin-1").lower()
        allowed = {host, *self.trusted}
        origin = headers.get(b"origin")
        if origin is not None:
            netloc = _netloc(origin.decode("latin-1"))
            return None if netloc in allowed else "cross-origin request refused"
        referer = headers.get(b"referer")
        if referer is not None and _netloc(referer.decode("latin-1")) not in allowed:
            return "cross-origin request refused"
        return None
