"""The HTTP JSON API around a loaded model (a run's or an export's):

- ``GET /health`` → ``{"status": "ok"}``; ``GET /info`` → what the model is (task, labels,
  scheme, backend, source, the run's scores) and the birnn-tag version;
- taggers: ``POST /tag`` with ``{"texts": [...]}`` (tokenized as ``predict`` does) or
  ``{"tokens": [[...], ...]}`` → ``{"results": [...]}``, each record as ``predict --format jsonl``
  writes it;
- cloze models: ``POST /fill`` with ``{"texts": [...], "top_k": 10, "choices": [...]}`` →
  ``{"results": [...]}`` as ``predict`` writes them.

Every bad request gets a 4xx answer ``{"error": "..."}`` naming the field (a route for the other
kind of model: a 404 naming the right one); the service never stops on one. Requests are tagged
together by a :class:`~birnn_tag.service.batcher.MicroBatcher`. Once :class:`Shutdown` has begun,
new requests get a 503 and accepted ones are answered; :mod:`birnn_tag.service.server` runs it.
There is no authentication: bind to loopback (the default) or put the service behind a proxy
that authenticates.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from birnn_tag.errors import BirnnTagError, short_repr
from birnn_tag.service.batcher import Busy, MicroBatcher
from birnn_tag.version import __version__

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may hold: ``items`` texts or sentences, ``chars`` characters in all, and
    ``body`` bytes of JSON; beyond them it gets a 413."""

    items: int = 1000
    chars: int = 1_000_000
    body: int = 16 * 1024 * 1024


class RequestError(Exception):
    """A request the service refuses: its HTTP status and a one-line message naming the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Shutdown:
    """The service's stopping state, shared with the server that runs it: once ``begun``, new
    requests get a 503; ``cut`` counts the accepted requests the server cancelled because its
    grace period was over."""

    begun: bool = False
    cut: int = 0


class _Draining:
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


def create_app(model: Any, *, max_batch: int = 256, max_wait: float = 0.005, limits: Limits = Limits()) -> FastAPI:
    """The service's ASGI app for ``model`` (from :func:`birnn_tag.load`); ``max_batch`` items are
    tagged together at most, after waiting at most ``max_wait`` seconds for more to arrive.
    ``app.state.shutdown`` is its :class:`Shutdown`."""
    tags = hasattr(model, "tag_stream")  # a tagger (run or export); otherwise a cloze model
    run = _tag_items(model) if tags else _fill_items(model)
    batcher = MicroBatcher(run, max_batch, max_wait)
    route, other_route = ("/tag", "/fill") if tags else ("/fill", "/tag")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="birnn-tag", version=__version__, lifespan=lifespan)
    app.state.batcher, app.state.shutdown = batcher, Shutdown()
    app.add_middleware(_Draining, shutdown=app.state.shutdown)

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        return JSONResponse({"error": f"busy: {error}; retry later"}, status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:  # 404, 405
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(ClientDisconnect)
    async def went_away(request: Request, error: ClientDisconnect) -> Response:
        logger.info("%s: the client went away before sending its whole request", request.url.path)
        return Response(status_code=400)  # no one is left to read it

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        logger.exception("request to %s failed", request.url.path)
        return JSONResponse({"error": f"internal error: {type(error).__name__}"}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        return model.describe() | {"version": __version__}

    if tags:

        @app.post("/tag")
        async def tag(request: Request) -> dict[str, Any]:
            items = tag_request(await _body(request, limits), limits)
            return {"results": await batcher.submit(items)}

    else:

        @app.post("/fill")
        async def fill(request: Request) -> dict[str, Any]:
            query = fill_request(await _body(request, limits), limits, model.unique_choices)
            (records,) = await batcher.submit([query])
            return {"results": records}

    @app.post(other_route)
    async def wrong_route() -> None:
        raise RequestError(404, f"POST {other_route}: this service runs a {model.task} model; use POST {route}")

    return app


def _tag_items(model: Any) -> Callable[[list[str | list[str]]], list[dict]]:
    """Texts and token lists → ``predict``'s JSONL records, in order."""

    def run(items: list[str | list[str]]) -> list[dict]:
        return [prediction.to_record() for prediction in model.tag_stream(items)]

    return run


def _fill_items(model: Any) -> Callable[[list[dict]], list[list[dict]]]:
    """Fill queries (``texts``, ``top_k``, ``choices``) → each query's records, in order."""

    def run(queries: list[dict]) -> list[list[dict]]:
        return [
            [answer.to_record() for answer in model.fill(q["texts"], top_k=q["top_k"], choices=q["choices"])]
            for q in queries
        ]

    return run


async def _body(request: Request, limits: Limits) -> dict[str, Any]:
    """The request's JSON object, or a :class:`RequestError` (400 unreadable, 413 too large, 422 not an object)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.body:
        raise RequestError(413, f"body: {int(declared):,} bytes, more than the limit of {limits.body:,}")
    chunks, size = [], 0
    async for chunk in request.stream():  # read in pieces: a chunked upload declares no length
        size += len(chunk)
        if size > limits.body:
            raise RequestError(413, f"body: more than the limit of {limits.body:,} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise RequestError(400, "body: empty; send a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise RequestError(400, f"body: not valid JSON ({short_repr(str(error))})") from None
    if not isinstance(body, dict):
        raise RequestError(422, f"body: expected a JSON object, got {type(body).__name__}")
    return body


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise RequestError(422, f"{short_repr(key)}: unknown field; expected {', '.join(allowed)}")


def _texts(value: Any, field: str, limits: Limits) -> list[str]:
    if not isinstance(value, list):
        raise RequestError(422, f"{field}: expected a list of strings, got {type(value).__name__}")
    _check_count(value, field, limits)
    for index, text in enumerate(value):
        _check_string(text, f"{field}[{index}]")
    _check_chars(sum(map(len, value)), field, limits)
    return value


def _check_string(value: Any, field: str) -> None:
    """A string that can be written back as UTF-8: JSON's ``\\ud800`` escapes decode to lone
    surrogates, which no answer could hold."""
    if not isinstance(value, str):
        raise RequestError(422, f"{field}: expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RequestError(422, f"{field}: not valid Unicode: a lone surrogate {value[error.start]!r} at character {error.start}") from None


def _check_count(value: list, field: str, limits: Limits) -> None:
    if len(value) > limits.items:
        raise RequestError(413, f"{field}: {len(value):,} items, more than the limit of {limits.items:,}")


def _check_chars(count: int, field: str, limits: Limits) -> None:
    if count > limits.chars:
        raise RequestError(413, f"{field}: {count:,} characters, more than the limit of {limits.chars:,}")


def tag_request(body: dict[str, Any], limits: Limits) -> list[str | list[str]]:
    """The items of a ``POST /tag`` body: its ``texts`` or its ``tokens`` (exactly one of them)."""
    _check_fields(body, ("texts", "tokens"))
    if ("texts" in body) == ("tokens" in body):
        raise RequestError(422, "body: expected exactly one of the fields texts or tokens")
    if "texts" in body:
        return _texts(body["texts"], "texts", limits)
    sentences = body["tokens"]
    if not isinstance(sentences, list):
        raise RequestError(422, f"tokens: expected a list of lists of strings, got {type(sentences).__name__}")
    _check_count(sentences, "tokens", limits)
    for row, tokens in enumerate(sentences):
        if not isinstance(tokens, list):
            raise RequestError(422, f"tokens[{row}]: expected a list of strings, got {type(tokens).__name__}")
        for column, token in enumerate(tokens):
            _check_string(token, f"tokens[{row}][{column}]")
            if not token.strip():
                raise RequestError(422, f"tokens[{row}][{column}]: empty token")
            if token.split() != [token]:  # predict --pretokenized splits lines at whitespace: no token holds any
                raise RequestError(422, f"tokens[{row}][{column}]: whitespace in token {short_repr(token)}; send each word as a token")
    _check_chars(sum(len(token) for tokens in sentences for token in tokens), "tokens", limits)
    return sentences


def fill_request(
    body: dict[str, Any], limits: Limits, unique_choices: Callable[[Sequence[str], str], list[str]]
) -> dict[str, Any]:
    """The query of a ``POST /fill`` body: ``texts``, ``top_k`` (default 10), ``choices`` (or
    null), made unique and checked by the model's ``unique_choices``."""
    _check_fields(body, ("texts", "top_k", "choices"))
    if "texts" not in body:
        raise RequestError(422, "texts: missing; expected a list of strings with blanks (___ or [MASK])")
    texts = _texts(body["texts"], "texts", limits)
    top_k = body.get("top_k", 10)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 10_000:
        raise RequestError(422, f"top_k: expected an integer from 1 to 10000, got {short_repr(top_k)}")
    choices = body.get("choices")
    if choices is not None:
        choices = _texts(choices, "choices", limits)
        if not choices or not all(word.strip() for word in choices):
            raise RequestError(422, "choices: expected non-empty words")
        try:
            choices = unique_choices(choices, "choices")
        except BirnnTagError as error:
            raise RequestError(422, str(error)) from None
    return {"texts": texts, "top_k": top_k, "choices": choices}

