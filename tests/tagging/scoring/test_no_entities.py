"""Span scores where neither the gold tags nor the predictions have an entity: a report of zeros
with no support, not a crash (seqeval divides by zero and cannot lay out an empty table)."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from birnn_tag.cli.app import app
from birnn_tag.tagging.scoring.span_scores import score_spans

from conftest import tiny_config_dict

runner = CliRunner()


def test_no_entities_on_either_side_scores_zero_with_no_support():
    for predicted in (["O", "O"], ["O", "I-PER"]):  # strict IOB2 reads no entity in O I-PER either
        report = score_spans([["O", "O"]], [predicted], "IOB2")
        assert report.scores["micro avg"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0.0}
        assert report.f1 == 0.0


def test_training_and_evaluating_on_data_without_entities(tmp_path):
    data = tmp_path / "o.conll"
    data.write_text("Peter O\nsmiles O\n\nBerg O\n\n")
    raw = tiny_config_dict(data, tmp_path / "run", epochs=1)
    raw["data"]["scheme"] = "IOB2"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["score"] == 0.0 and report["token_accuracy"] == 1.0
    result = runner.invoke(app, ["evaluate", str(tmp_path / "run"), "--data", str(data), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "micro avg" in result.output
