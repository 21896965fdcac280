"""birnn-tag check-data: exit codes and messages on crafted files."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from birnn_tag.cli.app import app

runner = CliRunner()
TRAIN = "-DOCSTART- O\n\nAnna B-PER\nlives O\nin O\nOslo B-LOC\n\nPeter B-PER\nBerg I-PER\n\n"


def check(tmp_path, files: dict[str, str], *options: str, **data):
    paths = {}
    for split, text in files.items():
        paths[split] = tmp_path / f"{split}.conll"
        paths[split].write_text(text)
    config = {"data": {**{split: str(path) for split, path in paths.items()}, **data}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["check-data", str(tmp_path / "c.yaml"), "--json", *options])
    report = json.loads(result.output[result.output.index("{"):]) if "{" in result.output else None
    return result, report


def messages(report, level):
    return [f["message"] for f in report["findings"] if f["level"] == level]


def test_clean_data_passes_and_is_summarised(tmp_path):
    result, report = check(tmp_path, {"train": TRAIN, "test": "Berg B-PER\nsmiles O\n\n"})
    assert result.exit_code == 0, result.output
    train = report["splits"][0]
    assert (train["sentences"], train["tokens"], train["scheme"], train["docstart_lines"]) == (2, 6, "IOB2", 1)
    assert train["labels"] == {"B-PER": 2, "O": 2, "B-LOC": 1, "I-PER": 1}
    assert report["training_scheme"] == "IOB2" and report["errors"] == 0


def test_missing_tags_are_counted_apart_from_the_labels(tmp_path):
    result, report = check(tmp_path, {"train": TRAIN + "Acme -\nhired O\nTom -\n\n"}, missing_tag="-")
    assert result.exit_code == 0, result.output
    assert report["splits"][0]["missing_tags"] == 2
    assert "-" not in report["splits"][0]["labels"]
    result = runner.invoke(app, ["check-data", str(tmp_path / "c.yaml")])
    assert "train: 2 of 9 tokens have a missing tag" in result.output


def test_invalid_transitions_fail_with_their_place_and_repair(tmp_path):
    result, report = check(tmp_path, {"train": TRAIN + "the O\nUN I-ORG\n\n"})
    assert result.exit_code == 1
    path = tmp_path / "train.conll"
    assert messages(report, "error") == [f"{path}:11 token 2: invalid IOB2 transition O → I-ORG (data.invalid_tags: repair makes it B-ORG)"]


def test_labels_missing_from_train_fail(tmp_path):
    result, report = check(tmp_path, {"train": TRAIN, "test": "Acme B-ORG\n\n"})
    assert result.exit_code == 1 and messages(report, "error") == ["entity types absent from train (never predicted): ORG"]


def test_shared_and_long_sentences_warn_and_strict_fails(tmp_path):
    files = {"train": TRAIN + "Anna B-PER\nlives O\nin O\nOslo B-LOC\n\n", "test": "Peter B-PER\nBerg I-PER\n\n"}
    result, report = check(tmp_path, files, max_length=3)
    assert result.exit_code == 0, result.output
    warnings = messages(report, "warning")
    assert any("4 tokens, more than data.max_length=3" in w for w in warnings)
    assert any("1 sentences repeat earlier ones of the split" in w for w in warnings)
    assert any('1 distinct sentences also in train (longest: "Peter Berg")' in w for w in warnings)
    result, _ = check(tmp_path, files, "--strict", max_length=3)
    assert result.exit_code == 1


def test_an_unreadable_file_fails_with_its_line(tmp_path):
    result, report = check(tmp_path, {"train": "Anna B-PER\nlives O extra\n\n"})
    assert result.exit_code == 1
    assert messages(report, "error") == [f"{tmp_path / 'train.conll'}:2: expected 2 columns, found 3"]


def test_vector_coverage(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("anna 0.1 0.2\nlives 0.3 0.4\nin 0.5 0.6\n")
    result, report = check(tmp_path, {"train": TRAIN}, "--set", f"model.embeddings={vectors}", "--set", "model.word_dim=2")
    assert result.exit_code == 0, result.output
    assert report["coverage"] == {"words": 6, "exact": 2, "lowercased": 1, "missing": 3}


def test_a_trailing_tab_is_not_an_empty_tag_column(tmp_path):
    result, report = check(tmp_path, {"train": "Peter\tNNP\tB-PER\t\nBerg\tNNP\tI-PER\t\nsmiles\tVBZ\tO\t\n\n"})
    assert result.exit_code == 0, result.output
    assert report["splits"][0]["labels"] == {"B-PER": 1, "I-PER": 1, "O": 1}


def test_lowercase_prefixes_are_read_as_spans(tmp_path):
    for scheme in ("auto", "IOB2"):
        result, report = check(tmp_path, {"train": "Peter b-per\nBerg i-per\nsmiles o\n\n"}, scheme=scheme)
        assert result.exit_code == 0, result.output
        assert (report["splits"][0]["scheme"], report["training_scheme"]) == ("IOB2", "IOB2")


def test_docstart_inside_a_sentence_fails_with_its_line(tmp_path):
    result, report = check(tmp_path, {"train": TRAIN + "Anna B-PER\n-DOCSTART- O\nBerg I-PER\n\n"})
    assert result.exit_code == 1
    assert messages(report, "error") == [f"{tmp_path / 'train.conll'}:12: -DOCSTART- inside a sentence (the one from line 11); a blank line must come before it"]
    assert report["findings"][0]["split"] == "train"


def test_an_unreadable_split_is_one_error_naming_the_split_and_no_table(tmp_path):
    (tmp_path / "folder").mkdir()
    result, report = check(tmp_path, {"train": TRAIN}, test=str(tmp_path / "folder"))
    assert result.exit_code == 1
    assert report["findings"] == [{"level": "error", "split": "test", "message": f"data.test: {tmp_path / 'folder'}: is a folder, not a data file"}]
    result = runner.invoke(app, ["check-data", str(tmp_path / "c.yaml")])
    assert result.exit_code == 1 and "training scheme" not in result.output
    assert "error: test: data.test:" in result.output.replace("\n", " ")


@pytest.mark.parametrize("scheme", ["auto", "IOB2"])
@pytest.mark.parametrize(
    "tags,message",
    [("B-PER VERB", "token 1: tag 'B-PER' has a span prefix but"), ("B- O", "token 1: invalid tag 'B-': the type after B- is empty")],
)
def test_a_tag_error_is_reported_once(tmp_path, scheme, tags, message):
    train = "".join(f"w{index} {tag}\n" for index, tag in enumerate(tags.split())) + "\n"
    result, report = check(tmp_path, {"train": train}, scheme=scheme)
    assert result.exit_code == 1
    assert report["errors"] == 1 and message in messages(report, "error")[0]
