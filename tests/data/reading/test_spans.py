"""Annotation tools' span exports (doccano, Label Studio, Prodigy) train as CoNLL columns do,
misaligned spans are named with their line, and pre-annotations written by predict read back."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import DataConfig, config_from_dict
from birnn_tag.data.reading.sources import load_corpus
from birnn_tag.errors import DataError
from conftest import tiny_config_dict

# (text, [(start, end, type)]) — the spans fall on the default tokenizer's token boundaries.
TEXTS = [
    ("Peter Blackburn lives in Paris.", [(0, 15, "PER"), (25, 30, "LOC")]),
    ("Anna Berg visited Oslo and met Acme.", [(0, 9, "PER"), (18, 22, "LOC"), (31, 35, "ORG")]),
    ("Tom flew to Paris.", [(0, 3, "PER"), (12, 17, "LOC")]),
]


def doccano(texts=TEXTS) -> str:
    return "".join(json.dumps({"text": t, "label": [list(s) for s in spans]}) + "\n" for t, spans in texts)


def label_studio(texts=TEXTS) -> str:
    tasks = [
        {"id": i, "data": {"text": t},
         "annotations": [{"result": [{"value": {"start": s, "end": e, "text": t[s:e], "labels": [k]},
                                      "from_name": "label", "to_name": "text", "type": "labels"} for s, e, k in spans]}]}
        for i, (t, spans) in enumerate(texts)
    ]
    return json.dumps(tasks, indent=2)  # as Label Studio exports it: one pretty-printed list


def prodigy(texts=TEXTS) -> str:
    lines = [json.dumps({"text": t, "spans": [{"start": s, "end": e, "label": k} for s, e, k in spans], "answer": "accept"})
             for t, spans in texts]
    return "\n".join(lines[:1] + [json.dumps({"text": "A rejected example .", "spans": [], "answer": "reject"})] + lines[1:]) + "\n"


def test_the_three_exports_of_the_same_sentences_train_identical_runs(tmp_path):
    runs = {}
    for name, content, suffix in (("doccano", doccano(), ".jsonl"), ("studio", label_studio(), ".json"), ("prodigy", prodigy(), ".jsonl")):
        data = tmp_path / f"{name}{suffix}"
        data.write_text(content)
        assert load_corpus(DataConfig(train=str(data))).splits["train"]["tags"][1] == [
            "B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-ORG", "O"]
        runs[name] = birnn_tag.train(config_from_dict(tiny_config_dict(data, tmp_path / name, epochs=2)))
    vocabularies = {name: (run / "vocab.json").read_text() for name, run in runs.items()}
    assert len(set(vocabularies.values())) == 1
    weights = [torch.load(run / "best.pt", weights_only=True)["model"] for run in runs.values()]
    assert all(torch.equal(weights[0][key], other[key]) for other in weights[1:] for key in weights[0])


@pytest.mark.parametrize(
    "spans, policy, outcome",
    [
        ([(0, 13, "PER")], "error", r"s.jsonl:2: span 0-13 'PER' does not fall on token boundaries: '\[Peter Blackbu\]rn lives in Paris\.'"),
        ([(0, 15, "PER"), (6, 15, "ORG")], "error", r"s.jsonl:2: span 6-15 'ORG' overlaps another span"),
        ([(25, 40, "LOC")], "error", r"s.jsonl:2: span 25-40 'LOC' is outside the text \(of 31 characters\)"),
        ([(0, 13, "PER"), (25, 30, "LOC")], "expand", ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
        ([(0, 13, "PER"), (25, 30, "LOC")], "skip", ["O", "O", "O", "O", "B-LOC", "O"]),
        ([(0, 15, "PER"), (6, 15, "ORG"), (25, 40, "LOC")], "expand", ["B-PER", "I-PER", "O", "O", "O", "O"]),
    ],
)
def test_misaligned_overlapping_and_outside_spans(tmp_path, caplog, spans, policy, outcome):
    path = tmp_path / "s.jsonl"
    path.write_text(doccano(TEXTS[1:2]) + doccano([(TEXTS[0][0], spans)]))
    config = DataConfig(train=str(path), misaligned_spans=policy)
    if isinstance(outcome, str):
        with pytest.raises(DataError, match=outcome + r".* \(set data.misaligned_spans: expand or skip\)$"):
            load_corpus(config)
        return
    assert load_corpus(config).splits["train"]["tags"][1] == outcome
    assert "span(s) (data.misaligned_spans: " + policy in caplog.text


def test_check_data_lists_every_span_train_would_refuse(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(doccano([(TEXTS[0][0], [(0, 13, "PER"), (25, 30, "LOC")]), TEXTS[1], (TEXTS[2][0], [(0, 3, "PER"), (12, 40, "LOC")])]))
    config = {"data": {"train": str(path)}}
    result = birnn_tag.check_data(config_from_dict(config))
    assert [finding.message for finding in result.errors] == [
        f"{path}:1: span 0-13 'PER' does not fall on token boundaries: '[Peter Blackbu]rn lives in Paris.' (data.misaligned_spans: expand or skip)",
        f"{path}:3: span 12-40 'LOC' is outside the text (of 18 characters): 'Tom flew to [Paris.]' (data.misaligned_spans: expand or skip)",
    ]
    assert result.splits[0].sentences == 3  # the rest of the file is still checked
    config["data"]["misaligned_spans"] = "expand"
    result = birnn_tag.check_data(config_from_dict(config))
    assert not result.errors
    assert [finding.message for finding in result.warnings] == [
        f"1 span(s) left out (data.misaligned_spans: expand), the first: {path}:3: span 12-40 'LOC' is outside the text "
        "(of 18 characters): 'Tom flew to [Paris.]'"
    ]


@pytest.mark.parametrize("output_format", ["label-studio", "doccano"])
def test_pre_annotations_read_back_as_the_predicted_spans(trained_run, tmp_path, output_format):
    texts = tmp_path / "in.txt"
    texts.write_text("Anna Berg visited Oslo .\nAcme hired Tom .\nTom flew to Paris and Oslo .\n")
    out = tmp_path / f"pre.{output_format}.jsonl"
    result = CliRunner().invoke(app, ["predict", str(trained_run), str(texts), "--format", output_format, "-o", str(out)])
    assert result.exit_code == 0, result.output
    predicted = birnn_tag.load(trained_run, device="cpu").tag(texts.read_text().splitlines())
    records = [json.loads(line) for line in out.read_text().splitlines()]
    if output_format == "label-studio":
        scores = [item["score"] for record in records for item in record["predictions"][0]["result"]]
        assert scores == [round(span.confidence, 4) for p in predicted for span in p.spans]
    read = load_corpus(DataConfig(train=str(out))).splits["train"]
    assert read["tags"] == [p.tags for p in predicted]
