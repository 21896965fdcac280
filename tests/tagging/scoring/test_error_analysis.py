"""Error analysis of span taggers: each kind on hand-made gold/predicted pairs, kinds adding up
to FP + FN, confusions, F1 by length and by seen words, and the predictions file."""

from __future__ import annotations

import json

import pytest

from birnn_tag.tagging.scoring.error_analysis import KINDS, analyze_errors
from birnn_tag.tagging.scoring.evaluation import evaluate_tags

CASES = [
    # (gold, predicted, the kinds of the false positives, of the false negatives)
    (["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"], [], []),
    (["B-PER", "O", "O"], ["O", "O", "O"], [], ["missed"]),
    (["O", "O", "O"], ["O", "B-LOC", "O"], ["spurious"], []),
    (["B-PER", "I-PER", "O"], ["B-ORG", "I-ORG", "O"], ["wrong type"], ["wrong type"]),
    (["B-PER", "I-PER", "O"], ["B-PER", "O", "O"], ["wrong boundary"], ["wrong boundary"]),
    (["B-PER", "I-PER", "I-PER"], ["O", "B-LOC", "I-LOC"], ["wrong type and boundary"], ["wrong type and boundary"]),
    # One prediction covering two gold entities: one FP, two FNs, all "wrong boundary".
    (["B-LOC", "B-LOC", "O"], ["B-LOC", "I-LOC", "O"], ["wrong boundary"], ["wrong boundary", "wrong boundary"]),
]


@pytest.mark.parametrize("gold,predicted,positives,negatives", CASES)
def test_each_kind(gold, predicted, positives, negatives):
    tokens = [["Anna", "Berg", "Oslo"]]
    analysis = analyze_errors(tokens, [gold], [predicted], [[True, True, True]], "IOB2")
    assert analysis.false_positives == {kind: positives.count(kind) for kind in KINDS}
    assert analysis.false_negatives == {kind: negatives.count(kind) for kind in KINDS}


def test_kinds_add_up_to_false_positives_plus_false_negatives():
    gold = [case[0] for case in CASES]
    predicted = [case[1] for case in CASES]
    tokens = [["w1", "w2", "w3"]] * len(CASES)
    seen = [[True, False, True]] * len(CASES)
    analysis = analyze_errors(tokens, gold, predicted, seen, "IOB2")
    report = evaluate_tags(gold, predicted, "IOB2")
    true_positives = round(report.scores["micro avg"]["recall"] * report.scores["micro avg"]["support"])
    predicted_spans = round(true_positives / report.scores["micro avg"]["precision"])
    fp, fn = predicted_spans - true_positives, report.scores["micro avg"]["support"] - true_positives
    assert sum(analysis.false_positives.values()) == fp and sum(analysis.false_negatives.values()) == fn
    assert analysis.confusions[0][:2] in {("PER", "ORG"), ("PER", "LOC")}
    assert analysis.by_length["1-10"]["gold"] == report.scores["micro avg"]["support"]
    # Word w2 is unseen: entities covering it fall in the second group.
    assert analysis.by_words["some word unseen"]["gold"] + analysis.by_words["all words seen in training"]["gold"] == fn + true_positives
    assert all(len(found) <= 3 for found in analysis.examples.values()) and "missed" in analysis.examples


def test_evaluate_writes_the_analysis_and_the_predictions(trained_run):
    from typer.testing import CliRunner

    from birnn_tag.cli.app import app

    result = CliRunner().invoke(app, ["evaluate", str(trained_run), "--split", "validation", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "errors by kind" in result.output
    report = json.loads((trained_run / "report-validation.json").read_text())
    assert set(report["errors"]["false_positives"]) == set(KINDS)
    lines = (trained_run / "predictions-validation.conll").read_text().split("\n\n")
    first = [row.split("\t") for row in lines[0].splitlines()]
    assert first[0][:2] == ["Anna", "B-PER"] and len(first[0]) == 3  # token, gold (IOB2), predicted
    assert "errors by kind" in (trained_run / "report-validation.txt").read_text()
