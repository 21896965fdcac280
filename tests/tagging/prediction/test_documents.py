"""Documents in, one prediction per document out: split into sentences, each tagged as it would
be alone, spans indexing the document, the same through the API, the CLI and the service."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.service.app import create_app

SENTENCES = ["Peter Blackburn lives in Paris.", "He met the EU in Brussels!", "Anna Berg visited Oslo."]
DOCUMENT = f"{SENTENCES[0]} {SENTENCES[1]}\n\n  {SENTENCES[2]}"


@pytest.fixture(scope="module")
def tagger(trained_run):
    return birnn_tag.load(trained_run, device="cpu")


def test_a_document_is_tagged_sentence_by_sentence_with_offsets_into_it(tagger):
    (document,) = tagger.tag_documents([DOCUMENT])
    alone = tagger.tag(SENTENCES)
    assert document.text == DOCUMENT
    assert document.tokens == [token for sentence in alone for token in sentence.tokens]
    assert document.tags == [tag for sentence in alone for tag in sentence.tags]
    assert document.confidences == pytest.approx([c for sentence in alone for c in sentence.confidences], abs=1e-6)
    assert [DOCUMENT[start:end] for start, end in document.offsets] == document.tokens
    spans = document.spans
    assert spans, "the tiny run finds entities in these sentences"
    assert [DOCUMENT[span.start : span.end] for span in spans] == [span.text for span in spans]
    assert {span.text for span in spans} >= {span.text for sentence in alone for span in sentence.spans}
    assert [p.tokens for p in tagger.tag_documents(["", "Oslo"])] == [[], ["Oslo"]]


def test_predict_reads_documents_lines_json_objects_and_pretokenized_documents(trained_run, tagger, tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text(DOCUMENT.replace("\n", " ") + "\n" + json.dumps({"text": SENTENCES[2]}) + "\n\n")
    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(trained_run), str(path), "--input-format", "documents", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [p.to_record() for p in tagger.tag_documents([DOCUMENT.replace("\n", " "), SENTENCES[2], ""])]
    assert records == json.loads(json.dumps(expected))
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("EU rejects German call . Peter Blackburn lives\n")
    result = runner.invoke(app, ["predict", str(trained_run), str(tokens), "--input-format", "documents", "--pretokenized"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines() if line] == "EU rejects German call . Peter Blackburn lives".split()
    refused = runner.invoke(app, ["predict", str(trained_run), str(path), "--input-format", "documents", "--format", "jsonl", "--k-best", "2"])
    assert refused.exit_code != 0 and "--k-best: lists the sequences of a sentence; not with --input-format documents" in refused.output


def test_the_service_tags_documents_as_the_api_does(trained_run, tagger):
    from fastapi.testclient import TestClient

    with TestClient(create_app(tagger)) as client:
        answer = client.post("/tag", json={"texts": [DOCUMENT, "Oslo"], "documents": True})
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"] == json.loads(json.dumps([p.to_record() for p in tagger.tag_documents([DOCUMENT, "Oslo"])]))
        refused = client.post("/tag", json={"tokens": [["Oslo"]], "documents": True})
        assert refused.status_code == 422 and "documents: applies to texts, not tokens" in refused.json()["error"]
