"""The service's ASGI middleware and exception handlers: the token check, the body limit and
the request metrics wrap every route once, so no route can forget them (Starlette's pure ASGI
middleware pattern); every error becomes a JSON answer with its status.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from .metrics import ServiceMetrics
from .service import RequestError

__all__ = ["BodyLimit", "RequestMetrics", "TokenAuth", "exception_handlers"]

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


async def send_json(send: Callable[..., Any], status: int, body: dict[str, Any]) -> None:
    """Answer ``body`` as JSON with ``status`` straight from a middleware."""
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class TokenAuth:
    """Refuse every path but ``open_paths`` without the token: 401 when none is offered, 403
    for a wrong one (compared in constant time). The token comes as ``Authorization: Bearer``
    or ``?token=`` (clients that cannot set headers, OpenRLHF's). O(len(token)) a request."""

    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str] = ("/healthz",)):
        self.app, self.secret, self.open_paths = app, token.encode(), frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        given = _header(scope, b"authorization")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if given is not None and given.lower().startswith("bearer "):
            offered = given[7:]
        else:
            offered = query.get("token", [""])[0]
        if hmac.compare_digest(offered.encode(), self.secret):
            return await self.app(scope, receive, send)
        status = 401 if given is None and "token" not in query else 403
        await send_json(send, status, {"error": "a valid token is required"})


class BodyLimit:
    """Refuse a body over ``max_bytes`` with 413: at once when its ``Content-Length`` says so,
    else while it streams in (the route's read raises `RequestError`), so a client can never
    make the service buffer more. O(1) a chunk."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await send_json(send, 413, {"error": f"the body ({declared} bytes) is over "
                                   f"the limit of {self.max_bytes} bytes (--max-body-bytes)"})  # fmt: skip
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestError(413, f"the body is over the limit of {self.max_bytes} bytes "
                                        "(--max-body-bytes)")  # fmt: skip
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Count every request under the status it was answered with (a failure that escapes as
    an exception is a 500) and time it, in ``metrics``. O(1) a request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def watched(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - start)


def exception_handlers() -> dict[Any, Callable[..., Any]]:
    """Starlette exception handlers: a `RequestError` answers its status, the library's
    errors for wrong user input (``ValueError``, ``TypeError``) 422, anything else a JSON 500
    (the service stays up; uvicorn logs the traceback)."""
    from starlette.responses import JSONResponse

    async def refused(request: Any, e: RequestError) -> Any:
        return JSONResponse({"error": str(e)}, e.status)

    async def user_input(request: Any, e: Exception) -> Any:
        return JSONResponse({"error": f"{type(e).__name__}: {e}"}, 422)

    async def internal(request: Any, e: Exception) -> Any:
        return JSONResponse({"error": f"internal error: {type(e).__name__}: {e}"}, 500)

    return {RequestError: refused, ValueError: user_input, TypeError: user_input,
            Exception: internal}  # fmt: skip
