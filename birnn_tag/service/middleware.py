"""The service's ASGI middleware: refusing requests while it stops, and reading a route's body
before FastAPI does."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


@dataclass
class Shutdown:
    """The service's stopping state, shared with the server that runs it: once ``begun``, new
    requests get a 503; ``cut`` counts the accepted requests the server cancelled because its
    grace period was over."""

    begun: bool = False
    cut: int = 0


class Draining:
    """ASGI middleware that refuses requests once shutdown has begun, and answers (503) and
    counts the accepted ones the server cancels when its grace period is over."""

    def __init__(self, app: ASGIApp, shutdown: Shutdown) -> None:
        self.app, self.shutdown = app, shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.shutdown.begun:
            refusal = "service shutting down: not taking new requests; retry on another instance"
            await JSONResponse({"error": refusal}, status_code=503)(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if not self.shutdown.begun:
                raise
            # uvicorn cancelled it when the grace ran out: a 503 here, not uvicorn's traceback and plain-text 500.
            self.shutdown.cut += 1
            if not started:
                cut = "service shutting down: the request was not finished within the grace period; retry on another instance"
                await JSONResponse({"error": cut}, status_code=503)(scope, receive, send)


class JsonBody:
    """ASGI middleware that reads the body of a ``POST path`` before FastAPI does: one over
    ``limit`` bytes gets a 413 before it is all read, a client that goes away is one log line,
    and the body is read as JSON whatever its Content-Type (``curl -d`` declares a form)."""

    def __init__(self, app: ASGIApp, path: str, limit: int) -> None:
        self.app, self.path, self.limit = app, path, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            too_large = f"body: {int(declared):,} bytes, more than the limit of {self.limit:,}"
            await JSONResponse({"error": too_large}, status_code=413)(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:  # read in pieces: a chunked upload declares no length
            message = await receive()
            if message["type"] == "http.disconnect":
                logger.info("%s: the client went away before sending its whole request", self.path)
                await Response(status_code=400)(scope, receive, send)  # no one is left to read it
                return
            chunks.append(message.get("body", b""))
            size, more = size + len(chunks[-1]), message.get("more_body", False)
            if size > self.limit:
                too_large = f"body: more than the limit of {self.limit:,} bytes"
                await JSONResponse({"error": too_large}, status_code=413)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        headers[b"content-type"] = b"application/json"
        await self.app(scope | {"headers": list(headers.items())}, replay, send)
