"""The HTTP JSON API around a loaded model (a run's or an export's):

- ``GET /health`` → ``{"status": "ok"}``; ``GET /info`` → what the model is (task, labels,
  scheme, backend, source, the run's scores) and the birnn-tag version;
- taggers: ``POST /tag`` with ``{"texts": [...]}`` (tokenized as ``predict`` does) or
  ``{"tokens": [[...], ...]}`` → ``{"results": [...]}``, each record as ``predict --format jsonl``
  writes it;
- cloze models: ``POST /fill`` with ``{"texts": [...], "top_k": 10, "choices": [...]}`` →
  ``{"results": [...]}`` as ``predict`` writes them.

Requests are validated against the models of :mod:`birnn_tag.service.schemas`, which the OpenAPI
page (``/docs``) shows. Every bad request gets a 4xx answer ``{"error": "..."}`` naming the field
(a route for the other kind of model: a 404 naming the right one); the service never stops on
one. Requests are tagged together by a :class:`~birnn_tag.service.batcher.MicroBatcher`. Once
:class:`~birnn_tag.service.middleware.Shutdown` has begun, new requests get a 503 and accepted ones are answered;
:mod:`birnn_tag.service.server` runs it. There is no authentication: bind to loopback (the
default) or put the service behind a proxy that authenticates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException

from birnn_tag.contracts import Filler, Tagger
from birnn_tag.errors import BirnnTagError, short_repr
from birnn_tag.service.batcher import Busy, MicroBatcher
from birnn_tag.service.middleware import Draining, JsonBody, Shutdown
from birnn_tag.service.schemas import (
    FillRequest,
    FillResponse,
    Refusal,
    TagRequest,
    TagResponse,
    refusal,
)
from birnn_tag.version import __version__

logger = logging.getLogger(__name__)
_RESULTS = TypeAdapter(dict[str, Any])
#: The refusals a model's route documents (404, 405 and 500 are any route's).
_REFUSALS: dict[int | str, dict[str, Any]] = {status: {"model": Refusal} for status in (400, 413, 422, 503)}


@dataclass(frozen=True)
class Limits:
    """What one request may hold: ``items`` texts or sentences, ``chars`` characters in all, and
    ``body`` bytes of JSON; beyond them it gets a 413."""

    items: int = 1000
    chars: int = 1_000_000
    body: int = 16 * 1024 * 1024

    def check(self, field: str, items: Sequence[str] | Sequence[Sequence[str]]) -> None:
        """Refuse (413) a request whose ``field`` holds too many ``items`` (texts or token lists)
        or characters."""
        if len(items) > self.items:
            raise HTTPException(413, f"{field}: {len(items):,} items, more than the limit of {self.items:,}")
        chars = sum(len(item) if isinstance(item, str) else sum(map(len, item)) for item in items)
        if chars > self.chars:
            raise HTTPException(413, f"{field}: {chars:,} characters, more than the limit of {self.chars:,}")


def create_app(model: Tagger | Filler, *, max_batch: int = 256, max_wait: float = 0.005, limits: Limits = Limits()) -> FastAPI:
    """The service's ASGI app for ``model`` (from :func:`birnn_tag.load`): a :class:`Filler` gets
    ``POST /fill``, a :class:`Tagger` ``POST /tag``; ``max_batch`` items are run together at
    most, after waiting at most ``max_wait`` seconds for more to arrive. ``app.state.shutdown``
    is its :class:`~birnn_tag.service.middleware.Shutdown`."""
    fills = isinstance(model, Filler)
    batcher = MicroBatcher(_fill_queries(model) if isinstance(model, Filler) else _tag_items(model), max_batch, max_wait)
    request_model = FillRequest if fills else TagRequest
    route, other_route = ("/fill", "/tag") if fills else ("/tag", "/fill")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="birnn-tag", version=__version__, lifespan=lifespan)
    app.state.batcher, app.state.shutdown = batcher, Shutdown()
    app.add_middleware(JsonBody, path=route, limit=limits.body)
    app.add_middleware(Draining, shutdown=app.state.shutdown)  # outermost: refuses before reading

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        if isinstance(error.__cause__, ValueError):  # FastAPI's JSON decoding failed
            return _not_json(error.__cause__)
        errors = error.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # an unknown field first, as it may explain the rest
        status, message = refusal(first, request_model)
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        return JSONResponse({"error": f"busy: {error}; retry later"}, status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:  # 404, 405, 413, 422 from the routes
        if isinstance(error.__cause__, (ValueError, RecursionError)):  # a body FastAPI could not decode
            return _not_json(error.__cause__)
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

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

    if isinstance(model, Filler):

        @app.post("/fill", response_model=FillResponse, responses=_REFUSALS)
        async def fill(query: FillRequest) -> Response:
            """Candidates for each blank of each line, as `predict` writes them for a cloze model."""
            limits.check("texts", query.texts)
            if query.choices is not None:
                limits.check("choices", query.choices)
                try:
                    query = query.model_copy(update={"choices": model.unique_choices(query.choices, "choices")})
                except BirnnTagError as error:
                    raise HTTPException(422, str(error)) from None
            (records,) = await batcher.submit([query])
            return _answer(records)

    else:

        @app.post("/tag", response_model=TagResponse, responses=_REFUSALS)
        async def tag(query: TagRequest) -> Response:
            """Tags for each text or token list, as `predict --format jsonl` writes them."""
            field, items = ("texts", query.texts) if query.texts is not None else ("tokens", query.tokens)
            limits.check(field, items)
            if query.documents:
                items = [model.document(text) for text in query.texts]
            return _answer(await batcher.submit(items))

    @app.post(other_route, include_in_schema=False)
    async def wrong_route() -> None:
        raise HTTPException(404, f"POST {other_route}: this service runs a {model.task} model; use POST {route}")

    return app


def _answer(records: list[dict[str, Any]]) -> Response:
    """``{"results": records}``, the records as built (the response model documents them; checking
    each answer against it would only cost time)."""
    return Response(_RESULTS.dump_json({"results": records}), media_type="application/json")


def _not_json(error: Exception) -> JSONResponse:
    """The 400 answer to a body FastAPI could not decode as JSON (``error``: why)."""
    if isinstance(error, json.JSONDecodeError) and not error.doc.strip():
        return JSONResponse({"error": "body: empty; send a JSON object"}, status_code=400)
    return JSONResponse({"error": f"body: not valid JSON ({short_repr(str(error))})"}, status_code=400)


def _tag_items(model: Tagger) -> Callable[[list[str | list[str]]], list[dict]]:
    """Texts and token lists → ``predict``'s JSONL records, in order."""

    def run(items: list[str | list[str]]) -> list[dict]:
        return [prediction.to_record() for prediction in model.tag_stream(items)]

    return run


def _fill_queries(model: Filler) -> Callable[[list[FillRequest]], list[list[dict]]]:
    """Fill requests → each one's records, in order."""

    def run(queries: list[FillRequest]) -> list[list[dict]]:
        return [
            [answer.to_record() for answer in model.fill_stream(query.texts, top_k=query.top_k, choices=query.choices)]
            for query in queries
        ]

    return run
