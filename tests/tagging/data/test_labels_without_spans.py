"""Tag sets without spans (data.scheme: none, e.g. POS tags): detection, token scores, training,
prediction without spans, and span tag sets whose dev/test have labels training lacks."""

from __future__ import annotations

import json
import shutil

import datasets
import pytest
import yaml
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.data.reading.sources import Corpus
from birnn_tag.errors import DataError
from birnn_tag.tagging.scoring.evaluation import evaluate_tags
from birnn_tag.tagging.scoring.label_scores import WordAccuracy
from birnn_tag.tagging.data.preparation import input_scheme, training_scheme
from birnn_tag.training.loop import train

from conftest import FIXTURES, tiny_config_dict

runner = CliRunner()


def corpus_of(*sentences: list[str]) -> Corpus:
    """A one-split corpus whose sentences have the given tags, read as from ``data.conll``
    (each sentence on consecutive lines, one blank line between them)."""
    lines, line = [], 1
    for tags in sentences:
        lines.append(line)
        line += len(tags) + 1
    dataset = datasets.Dataset.from_dict(
        {"tokens": [["w"] * len(tags) for tags in sentences], "tags": [list(t) for t in sentences], "line": lines}
    )
    return Corpus(datasets.DatasetDict({"train": dataset}), {"train": "data.conll"})


def data_config(**settings):
    return config_from_dict({"data": {"train": "data.conll", **settings}}).data


@pytest.mark.parametrize(
    "tags,expected",
    [
        ([["O", "I-PER"], ["I-PER", "B-PER"]], ("IOB1", "IOB2")),
        ([["B-NP", "I-NP", "O"]], ("IOB2", "IOB2")),
        ([["S-LOC", "O"]], ("BIOES", "IOB2")),
        ([["DET", "NOUN"], ["PUNCT"]], ("none", "none")),
        ([["O", "NOUN"]], ("none", "none")),  # O is a plain label too when nothing has a prefix
    ],
)
def test_detection(tags, expected):
    corpus = corpus_of(*tags)
    assert (input_scheme(corpus, "train", data_config()), training_scheme(corpus, data_config())) == expected


def test_a_mix_of_prefixed_and_plain_tags_names_one_of_each():
    corpus = corpus_of(["DET", "NOUN"], ["O", "B-PER", "VERB"])
    with pytest.raises(DataError) as error:
        input_scheme(corpus, "train", data_config())
    assert str(error.value) == (
        "data.conll:4 token 2: tag 'B-PER' has a span prefix but data.conll:1 token 1: tag 'DET' has none; "
        "set data.scheme: none to take every tag as a plain label, or fix the tags"
    )
    # Taking every tag as a label is what the message suggests, and it works.
    assert training_scheme(corpus, data_config(scheme="none")) == "none"


def test_a_span_scheme_refuses_plain_labels_and_says_what_to_set(tmp_path):
    data = tmp_path / "pos.tsv"
    shutil.copy(FIXTURES / "tiny-pos.tsv", data)
    config = config_from_dict(tiny_config_dict(data, tmp_path / "run") | {"data": {"train": str(data), "scheme": "BIOES"}})
    with pytest.raises(DataError, match=r"pos.tsv:1 token 1: tag 'DET' .* no span prefix .* set data.scheme: none"):
        train(config)


def test_scheme_none_keeps_prefixed_tags_as_labels(tmp_path, tiny_conll):
    """Span tags taken as plain labels are not converted: IOB1's I-PER stays I-PER."""
    raw = tiny_config_dict(tiny_conll, tmp_path / "run", epochs=1)
    raw["data"]["scheme"] = "none"
    run = train(config_from_dict(raw))
    labels = json.loads((run / "vocab.json").read_text())["labels"]
    assert "I-PER" in labels and "B-PER" not in labels
    assert json.loads((run / "report.json").read_text())["headline"] == "token accuracy"


def test_token_report_equals_a_direct_computation():
    gold = [["DET", "NOUN", "VERB"], ["NOUN", "NOUN", "PUNCT", "ADJ"]]
    pred = [["DET", "NOUN", "NOUN"], ["NOUN", "VERB", "PUNCT", "NOUN"]]
    seen = [[True, True, False], [True, False, True, False]]
    report = evaluate_tags(gold, pred, "none", seen)
    pairs = [(g, p) for gr, pr in zip(gold, pred) for g, p in zip(gr, pr)]
    assert report.score == report.accuracy == 4 / 7
    labels = sorted({label for pair in pairs for label in pair})
    assert [name for name in report.scores if "avg" not in name] == labels
    f1s, supports = [], []
    for label in labels:
        predicted = sum(p == label for _, p in pairs)
        actual = sum(g == label for g, _ in pairs)
        hits = sum(g == p == label for g, p in pairs)
        precision = hits / predicted if predicted else 0.0
        recall = hits / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        row = report.scores[label]
        assert (row["precision"], row["recall"], row["support"]) == pytest.approx((precision, recall, actual))
        assert row["f1-score"] == pytest.approx(f1)
        f1s.append(f1)
        supports.append(actual)
    assert report.scores["macro avg"]["f1-score"] == pytest.approx(sum(f1s) / len(f1s))
    weighted = sum(f * s for f, s in zip(f1s, supports)) / sum(supports)
    assert report.scores["weighted avg"]["f1-score"] == pytest.approx(weighted)
    # Seen tokens: DET NOUN | NOUN PUNCT, all right; unseen: VERB→NOUN, NOUN→VERB, ADJ→NOUN.
    assert report.seen == WordAccuracy(accuracy=1.0, tokens=4)
    assert report.unseen == WordAccuracy(accuracy=0.0, tokens=3)


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_a_tiny_pos_file_is_memorised_and_tagged_without_spans(tmp_path, head):
    data = tmp_path / "pos.tsv"
    shutil.copy(FIXTURES / "tiny-pos.tsv", data)
    raw = tiny_config_dict(data, tmp_path / "run")
    raw["model"]["head"] = head
    config = tmp_path / "pos.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["scheme"] == "none"  # auto, resolved
    report = json.loads((run / "report.json").read_text())
    assert report["token_accuracy"] == report["score"] == 1.0
    assert report["scores"]["NOUN"]["support"] == 5 and report["seen_words"]["tokens"] == 34
    # Early stopping follows token accuracy: an epoch is best exactly when it beats every earlier one.
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best_so_far = float("-inf")
    for record in records:
        assert record["best"] == (record["dev_accuracy"] > best_so_far)
        best_so_far = max(best_so_far, record["dev_accuracy"])

    source = tmp_path / "in.txt"
    source.write_text("The cat sat on the mat .\nAnna reads old books quickly .\n")
    result = runner.invoke(app, ["predict", str(run), str(source), "--pretokenized", "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["tags"] for r in records] == [
        ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"], ["PROPN", "VERB", "ADJ", "NOUN", "ADV", "PUNCT"]
    ]
    assert all("spans" not in r and len(r["confidences"]) == len(r["tokens"]) for r in records)
    predictions = birnn_tag.load(run, device="cpu").tag_tokens([["The", "cat", "sat"]])
    assert predictions[0].tags == ["DET", "NOUN", "VERB"] and predictions[0].spans == []


def test_long_sentences_without_spans_are_scored_whole(tmp_path):
    """Pieces of data.max_length tokens are tagged and joined back: every token is scored and
    predicted once, as written."""
    data = tmp_path / "pos.tsv"
    shutil.copy(FIXTURES / "tiny-pos.tsv", data)
    raw = tiny_config_dict(data, tmp_path / "run", epochs=2)
    raw["data"]["max_length"] = 3
    run = train(config_from_dict(raw))
    report = json.loads((run / "report.json").read_text())
    assert report["scores"]["weighted avg"]["support"] == 34
    predictions = birnn_tag.load(run, device="cpu").tag_tokens([["w"] * 10])
    assert len(predictions[0].tags) == 10


def test_dev_labels_unseen_in_training_are_scored_not_refused(tmp_path, caplog):
    """A chunk type training never has as I- (one-word PRT chunks) must not stop training:
    the dev set's I-PRT is scored as the model's error and named in a warning."""
    (tmp_path / "train.conll").write_text("up B-PRT\nthe B-NP\ndog I-NP\n\nran B-VP\n\n")
    (tmp_path / "dev.conll").write_text("up B-PRT\nto I-PRT\nthe B-NP\n\nhis B-ADJP\n\n")
    raw = tiny_config_dict(tmp_path / "train.conll", tmp_path / "run", epochs=1)
    raw["data"].update(validation=str(tmp_path / "dev.conll"), test=str(tmp_path / "dev.conll"))
    run = train(config_from_dict(raw))
    assert f"{tmp_path / 'dev.conll'}: entity types not seen in training (always wrong): ADJP" in caplog.text
    assert json.loads((run / "report.json").read_text())["scores"]["ADJP"]["support"] == 1


def test_resuming_a_run_with_scheme_auto_does_not_warn(tmp_path):
    data = tmp_path / "pos.tsv"
    shutil.copy(FIXTURES / "tiny-pos.tsv", data)
    train(config_from_dict(tiny_config_dict(data, tmp_path / "run", epochs=1)))
    events = []
    train(config_from_dict(tiny_config_dict(data, tmp_path / "run", epochs=2)), resume=True, on_event=events.append)
    assert not [e for e in events if getattr(e, "level", None) == "warning"]
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2


def test_conllu_file_trains_evaluates_and_predicts(tmp_path):
    data = tmp_path / "ud.conllu"
    shutil.copy(FIXTURES / "tiny.conllu", data)
    raw = tiny_config_dict(data, tmp_path / "run")
    config = tmp_path / "ud.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert json.loads((run / "report.json").read_text())["token_accuracy"] == 1.0
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(data)])
    assert result.exit_code == 0, result.output
    # predict reads .conllu by its extension: words only (no "du" range, no empty node).
    output = tmp_path / "out.conll"
    result = runner.invoke(app, ["predict", str(run), str(data), "-o", str(output)])
    assert result.exit_code == 0, result.output
    sentences = [block.splitlines() for block in output.read_text().strip().split("\n\n")]
    assert [[row.split("\t")[0] for row in rows] for rows in sentences][1] == ["Anna", "reads", "de", "le", "pain", "."]
    assert sentences[1][3] == "le\tDET" and len(sentences[2]) == 7


def test_lowercase_prefixes_are_spans_not_plain_labels():
    corpus = corpus_of(["b-per", "i-per", "o"], ["o", "b-loc"])
    assert (input_scheme(corpus, "train", data_config()), training_scheme(corpus, data_config())) == ("IOB2", "IOB2")


def test_a_prefix_without_a_type_is_named_with_its_place():
    corpus = corpus_of(["B-PER", "O"], ["O", "B-"])
    with pytest.raises(DataError, match=r"^data.conll:4 token 2: invalid tag 'B-': the type after B- is empty$"):
        input_scheme(corpus, "train", data_config())
