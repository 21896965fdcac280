"""Document context (``model.document_context``): readers keep document boundaries, the encoder
reads each sentence with its neighbours, and training's scoring, ``predict`` (CoNLL and
documents), the API, the ONNX export and the service tag the same way; input without documents
still works."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.data.document_context import piece_contexts
from birnn_tag.data.reading.conll import ColumnFormat, read_conll
from birnn_tag.data.reading.conllu import read_conllu
from birnn_tag.errors import ConfigError
from birnn_tag.tagging.onnx.export import check_export, export_model
from birnn_tag.tagging.prediction.streaming import InputSentence, tag_sentences
from birnn_tag.training.loop import train

from conftest import tiny_config_dict

runner = CliRunner()
# Two documents in which names recur; one sentence (9 tokens) is longer than max_length (6).
DOCUMENTS = [
    [
        "Anna/B-PER Berg/I-PER visited/O Oslo/B-LOC ./O",
        "Berg/B-PER flew/O home/O ./O",
        "Acme/B-ORG hired/O Tom/B-PER in/O Oslo/B-LOC and/O Paris/B-LOC today/O ./O",
    ],
    [
        "Tom/B-PER flew/O to/O Paris/B-LOC ./O",
        "The/O German/B-MISC firm/O Acme/B-ORG grew/O ./O",
        "Paris/B-LOC won/O ./O",
    ],
]


def conll_text(documents: list[list[str]], docstart: bool = True) -> str:
    lines = []
    for document in documents:
        if docstart:
            lines += ["-DOCSTART- O", ""]
        for sentence in document:
            lines += [" ".join(pair.rsplit("/", 1)) for pair in sentence.split()] + [""]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", params=[False, True], ids=["window", "window+memory"])
def run(request, tmp_path_factory) -> Path:
    """A tiny NER run reading 5 tokens of document context, pieces of at most 6 tokens; with and
    without the word memory over its window."""
    folder = tmp_path_factory.mktemp("document-context")
    data = folder / "docs.conll"
    data.write_text(conll_text(DOCUMENTS * 3), encoding="utf-8")
    raw = tiny_config_dict(data, folder / "run", epochs=12)
    raw["data"].update(max_length=6, scheme="IOB2")
    raw["model"].update(head="crf", casing_dim=4, document_context=5, document_memory=request.param)
    return train(config_from_dict(raw))


def test_conll_readers_keep_document_boundaries(tmp_path):
    marked = tmp_path / "marked.conll"
    marked.write_text("Solo O\n\n" + conll_text(DOCUMENTS), encoding="utf-8")
    columns = read_conll(marked, ColumnFormat(0, -1))
    assert columns["document"] == [None, 1, 1, 1, 2, 2, 2]  # before the first -DOCSTART-: alone
    plain = tmp_path / "plain.conll"
    plain.write_text(conll_text(DOCUMENTS, docstart=False), encoding="utf-8")
    assert "document" not in read_conll(plain, ColumnFormat(0, -1))
    conllu = tmp_path / "docs.conllu"
    word = "1\t{}\t_\tX\t_\t_\t0\troot\t_\t_\n"
    conllu.write_text("# newdoc id = a\n" + word.format("A") + "\n" + word.format("B") + "\n# newdoc\n" + word.format("C") + "\n")
    assert read_conllu(conllu, 1, 3)["document"] == [1, 1, 2]


def test_context_is_the_nearest_tokens_of_the_same_document():
    texts = [["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i"], ["j"]]
    assert piece_contexts(texts, [1, 1, 1, 2], [(row, 0, len(t)) for row, t in enumerate(texts)], 3) == [
        ([], ["d", "e", "f"]), (["a", "b", "c"], ["f", "g", "h"]), (["c", "d", "e"], []), ([], []),
    ]
    # a piece of a long sentence: the rest of its sentence comes first
    assert piece_contexts(texts, [1, 1, 1, 1], [(2, 1, 3)], 2) == [(["e", "f"], ["i", "j"])]
    assert piece_contexts(texts, None, [(1, 0, 2)], 3) == [([], [])]
    assert piece_contexts(texts, [1, None, 1, 1], [(1, 0, 2), (2, 0, 4)], 3) == [([], []), ([], ["j"])]


def test_document_context_is_refused_with_per_sentence_features(tmp_path):
    raw = tiny_config_dict(tmp_path / "x.conll", tmp_path / "run")
    raw["model"].update(document_context=8, lm_embeddings=str(tmp_path / "lm"))
    with pytest.raises(ConfigError, match="model.document_context"):
        config_from_dict(raw)
    raw["model"].update(document_context=0, lm_embeddings=None, document_memory=True)
    with pytest.raises(ConfigError, match="model.document_memory: needs model.document_context"):
        config_from_dict(raw)
    raw["model"].update(document_context=8)
    raw["data"]["validation_fraction"] = 0.1  # random sentences of documents: refused
    with pytest.raises(ConfigError, match="data.validation_fraction: carves random sentences out of their documents"):
        config_from_dict(raw)


def test_neighbours_change_what_a_sentence_is_read_with(run):
    model = birnn_tag.load(run)
    sentences = [sentence for document in DOCUMENTS for sentence in document]
    tokens = [[pair.rsplit("/", 1)[0] for pair in sentence.split()] for sentence in sentences]
    alone = model.tag_tokens(tokens)
    together = model.tag_stream([model.document(" ".join(" ".join(t) for t in tokens[:3]), pretokenized=True)])
    joined = next(together)
    assert joined.confidences[:5] != alone[0].confidences  # the same sentence, read with its neighbours
    # a sentence alone is read alone whatever it is batched with (other batches round differently)
    assert gap(alone, model.tag_tokens(tokens, batch_size=1)) < 1e-4
    assert gap(alone, [joined]) > 3e-4


def test_predict_scores_and_tags_documents_as_training_scored_them(run, tmp_path):
    """Training's scoring of the test split (windows from its -DOCSTART- documents) and predict
    on the same file (CoNLL input, its documents read as they stream) give the same tags, with
    one batch or many, and the export and the API give them too."""
    data = Path(yaml.safe_load((run / "config.yaml").read_text())["data"]["test"])
    scored = [line.split("\t")[2] for line in (run / "predictions-test.conll").read_text().splitlines() if line]
    for batch in ("1", "256"):
        out = tmp_path / f"tags-{batch}.conll"
        result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(out), "--input-format", "conll", "--batch-size", batch])
        assert result.exit_code == 0, result.output
        assert [line.split("\t")[1] for line in out.read_text().splitlines() if line] == scored
    export = export_model(birnn_tag.load(run).loaded, tmp_path / "export")
    tokens = [sentence.tokens for sentence in birnn_tag.load(run).read_inputs(data.open("rb"), str(data), "conll")]
    assert check_export(birnn_tag.load(run).loaded, export, tokens).passed  # each sentence alone, in both
    out = tmp_path / "onnx.conll"
    result = runner.invoke(app, ["predict", str(export), str(data), "-o", str(out), "--input-format", "conll"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[1] for line in out.read_text().splitlines() if line] == scored
    model, onnx_model = birnn_tag.load(run), birnn_tag.load(export)
    with data.open("rb") as handle:
        api = list(model.tag_stream(model.read_inputs(handle, str(data), "conll")))
    assert [tag for p in api for tag in p.tags] == scored
    alone = model.tag_tokens([p.tokens for p in api])  # the same sentences without their documents
    assert [p.confidences for p in alone] != [p.confidences for p in api]
    with data.open("rb") as handle:  # k best sequences are read in the same windows: the best is Viterbi's
        listed = list(model.tag_stream(model.read_inputs(handle, str(data), "conll"), k_best=3))
    # (a sentence longer than max_length is listed from pieces that do not overlap, tagged from
    # windows that do: those two may differ)
    whole = [index for index, p in enumerate(api) if len(p.tokens) <= 6]
    assert [listed[i].k_best[0][0] for i in whole] == [api[i].tags for i in whole]
    texts = [" ".join(pair.rsplit("/", 1)[0] for s in document for pair in s.split()) for document in DOCUMENTS]
    torch_documents = model.tag_documents(texts, pretokenized=True)
    onnx_documents = onnx_model.tag_documents(texts, pretokenized=True)
    assert [p.tags for p in torch_documents] == [p.tags for p in onnx_documents]
    for ours, theirs in zip(torch_documents, onnx_documents):
        assert torch.allclose(torch.tensor(ours.confidences), torch.tensor(theirs.confidences), atol=1e-3)


def test_chunks_of_the_stream_do_not_cut_a_sentence_off_its_neighbours(run):
    """predict reads input a chunk at a time; the chunk edges fall inside documents here. (A
    context reaches into the next chunk and no further: 2 sentences hold 5 tokens here.)"""
    model = birnn_tag.load(run)
    data = Path(yaml.safe_load((run / "config.yaml").read_text())["data"]["test"])
    sentences = list(model.read_inputs(data.open("rb"), str(data), "conll"))
    decode = model.decoder(64)
    whole = list(tag_sentences(model.config, model.vocabs, decode, sentences))
    # other batches round differently (1e-5); a sentence read without a neighbour moves more
    alone = list(tag_sentences(model.config, model.vocabs, decode, [InputSentence.from_tokens(p.tokens) for p in whole]))
    assert gap(alone, whole) > 3e-4
    for size in (2, 5):
        chunked = list(tag_sentences(model.config, model.vocabs, decode, sentences, chunk_size=size))
        assert [p.tags for p in chunked] == [p.tags for p in whole] and gap(chunked, whole) < 1e-4


def gap(ours, theirs) -> float:
    """The largest difference between two lists of predictions' confidences."""
    return max(abs(x - y) for a, b in zip(ours, theirs) for x, y in zip(a.confidences, b.confidences))


def test_service_tags_documents_with_their_context(run):
    from fastapi.testclient import TestClient

    from birnn_tag.service.app import create_app

    model = birnn_tag.load(run)
    texts = [" ".join(pair.rsplit("/", 1)[0] for s in document for pair in s.split()) for document in DOCUMENTS]
    with TestClient(create_app(model)) as client:
        answer = client.post("/tag", json={"texts": texts, "documents": True})
    assert answer.status_code == 200, answer.text
    expected = [p.to_record() for p in model.tag_documents(texts)]
    assert answer.json()["results"] == expected
