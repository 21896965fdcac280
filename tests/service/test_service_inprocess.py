"""The service's app driven in-process over ASGI (no server, no HTTP client): refusals once
shutdown has begun, a client that goes away mid-upload, a route for the other kind of model,
a cloze run's /info, lone surrogates, /fill's refusals, ranked choices (service = API = CLI),
and the OpenAPI page's schemas, which real answers match."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app as cli
from birnn_tag.errors import BirnnTagError
from birnn_tag.service.app import create_app
from birnn_tag.service.schemas import FillResponse, TagResponse

LINE = "joe likes ___ , especially fried , scrambled or poached ."


def asgi(app, method: str, path: str, body: object = None, *, disconnect: bool = False) -> tuple[int, dict | None]:
    """One request straight to the ASGI app: its status and JSON answer. ``disconnect``: the
    client goes away after sending the first chunk of ``body`` (bytes as they are, else JSON)."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    incoming = [{"type": "http.request", "body": data, "more_body": disconnect}]
    sent = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def scenario() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
        await app.state.batcher.stop()

    asyncio.run(scenario())
    answer = b"".join(message.get("body", b"") for message in sent[1:])
    return sent[0]["status"], json.loads(answer) if answer else None


@pytest.fixture(scope="module")
def tagger(trained_run):
    return create_app(birnn_tag.load(trained_run, device="cpu"))


@pytest.fixture(scope="module")
def cloze(cloze_run):
    return create_app(birnn_tag.load(cloze_run / "run", device="cpu"))


def test_a_client_that_goes_away_mid_upload_is_one_log_line_not_a_traceback(tagger, caplog):
    with caplog.at_level(logging.DEBUG):
        asgi(tagger, "POST", "/tag", b'{"texts": ["Peter Blackburn lives', disconnect=True)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("birnn_tag")] == [
        "/tag: the client went away before sending its whole request"
    ]
    assert asgi(tagger, "POST", "/tag", {"texts": ["Anna visited Oslo ."]})[0] == 200  # and serves on


def test_once_shutdown_has_begun_new_requests_get_a_503_naming_it(trained_run):
    app = create_app(birnn_tag.load(trained_run, device="cpu"))
    assert asgi(app, "POST", "/tag", {"texts": ["Anna visited Oslo ."]})[0] == 200
    app.state.shutdown.begun = True
    for method, path, body in (("POST", "/tag", {"texts": ["Anna visited Oslo ."]}), ("GET", "/health", None)):
        status, answer = asgi(app, method, path, body)
        assert status == 503 and answer["error"].startswith("service shutting down: not taking new requests"), answer


def test_the_route_of_the_other_kind_of_model_is_a_404_naming_the_right_one(tagger, cloze):
    assert asgi(tagger, "POST", "/fill", {"texts": [LINE]}) == (
        404, {"error": "POST /fill: this service runs a tagging model; use POST /tag"})
    assert asgi(cloze, "POST", "/tag", {"texts": ["a"]}) == (
        404, {"error": "POST /tag: this service runs a cloze model; use POST /fill"})


def test_a_cloze_runs_info_has_its_scores(cloze):
    status, info = asgi(cloze, "GET", "/info")
    assert status == 200 and set(info["metrics"]) == {"validation", "test"}, info
    test = info["metrics"]["test"]
    assert test["headline"] == "top-1 accuracy" and 0.0 < test["score"] <= 1.0


@pytest.mark.parametrize(
    "route,body,field",
    [
        ("/tag", {"texts": ["ok", "Paris \ud800"]}, "texts[1]"),
        ("/tag", {"tokens": [["Paris", "\udfff"]]}, "tokens[0][1]"),
        ("/fill", {"texts": ["joe likes ___ \ud800"]}, "texts[0]"),
        ("/fill", {"texts": [LINE], "choices": ["eggs", "\ud800"]}, "choices[1]"),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(tagger, cloze, route, body, field):
    status, answer = asgi(tagger if route == "/tag" else cloze, "POST", route, body)
    assert status == 422 and answer["error"].startswith(f"{field}: not valid Unicode: a lone surrogate"), answer


def test_choices_are_ranked_once_each_and_special_tokens_refused_by_service_api_and_cli(cloze, cloze_run, tmp_path):
    run = cloze_run / "run"
    status, answer = asgi(cloze, "POST", "/fill", {"texts": [LINE], "choices": ["eggs", "cars", "eggs"]})
    served = answer["results"][0]["blanks"][0]["candidates"]
    (api,) = birnn_tag.load(run, device="cpu").fill([LINE], choices=["eggs", "cars", "eggs"])
    result = CliRunner().invoke(cli, ["predict", str(run), "-", "--choices", "eggs,cars,eggs", "--device", "cpu"], input=LINE + "\n")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)["blanks"][0]["candidates"]
    assert status == 200 and [c["word"] for c in served] == ["eggs", "cars"]
    assert served == printed == api.to_record()["blanks"][0]["candidates"]

    status, answer = asgi(cloze, "POST", "/fill", {"texts": [LINE], "choices": ["eggs", "<unk>"]})
    assert (status, answer) == (422, {"error": "choices[1]: '<unk>' is a special token, not a word; leave it out"})
    with pytest.raises(BirnnTagError, match=r"^choices\[0\]: '<pad>' is a special token"):
        birnn_tag.load(run, device="cpu").fill([LINE], choices=["<pad>"])
    result = CliRunner().invoke(cli, ["predict", str(run), "-", "--choices", "eggs,<UNK>", "--device", "cpu"], input=LINE + "\n")
    assert result.exit_code == 1 and "--choices[1]: '<UNK>' is a special token, not a word" in result.output


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({}, 422, "texts: missing; expected a list of strings with blanks (___ or [MASK])"),
        ({"texts": [LINE], "top_k": 0}, 422, "top_k: expected an integer from 1 to 10000, got 0"),
        ({"texts": [LINE], "top_k": True}, 422, "top_k: expected an integer from 1 to 10000, got True"),
        ({"texts": [LINE], "top_k": "3"}, 422, "top_k: expected an integer from 1 to 10000, got '3'"),
        ({"texts": [LINE], "choices": []}, 422, "choices: expected non-empty words"),
        ({"texts": [LINE], "choices": ["eggs", " "]}, 422, "choices: expected non-empty words"),
        ({"texts": [LINE], "choices": "eggs"}, 422, "choices: expected a list of strings, got str"),
        ({"texts": [LINE, 3]}, 422, "texts[1]: expected a string, got int"),
        ({"texts": [LINE], "blank": "___"}, 422, "'blank': unknown field; expected texts, top_k, choices"),
        ({"texts": [LINE] * 1001}, 413, "texts: 1,001 items, more than the limit of 1,000"),
    ],
)
def test_fill_refuses_a_bad_request_naming_the_field(cloze, body, status, message):
    assert asgi(cloze, "POST", "/fill", body) == (status, {"error": message})


def test_the_openapi_page_documents_the_routes_and_real_answers_match_it(tagger, cloze):
    status, spec = asgi(tagger, "GET", "/openapi.json")
    post = spec["paths"]["/tag"]["post"]
    assert status == 200 and "/fill" not in spec["paths"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TagRequest"}
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TagResponse"}
    assert post["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refusal"}
    assert set(spec["components"]["schemas"]["TagRequest"]["properties"]) == {"texts", "tokens", "documents"}
    assert asgi(cloze, "GET", "/openapi.json")[1]["paths"]["/fill"]["post"]["requestBody"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/FillRequest"}

    # The response models are closed: an answer with a field they do not document fails here.
    for body in ({"texts": ["Anna visited Oslo .", ""]}, {"tokens": [["Anna", "visited", "Oslo", "."]]}):
        status, answer = asgi(tagger, "POST", "/tag", body)
        assert status == 200 and TagResponse.model_validate(answer).results[0].spans is not None
    for body in ({"texts": [LINE, "no blank here"], "top_k": 2}, {"texts": [LINE], "choices": ["eggs", "zzzunknown"]}):
        status, answer = asgi(cloze, "POST", "/fill", body)
        assert status == 200 and FillResponse.model_validate(answer).results
