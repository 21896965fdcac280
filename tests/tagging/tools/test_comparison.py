"""birnn-tag compare: the paired bootstrap against a brute-force enumeration of every resample,
its determinism, per-type counts, seed groups, and the command's arguments and refusals."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.tagging.tools.comparison import compare_predictions, scores_of, sentence_counts
from birnn_tag.training.loop import train

from conftest import FIXTURES, tiny_config_dict

runner = CliRunner()
GOLD = [["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["B-ORG", "O", "B-PER"]]
A = [["B-PER", "I-PER", "O"], ["O", "O"], ["B-ORG", "O", "O"]]  # 2 of 4 found, none spurious: F1 2/3
B = [["B-PER", "O", "O"], ["B-LOC", "O"], ["B-ORG", "O", "B-PER"]]  # 3 of 4, one wrong boundary


def test_counts_per_type_and_overall():
    counts = sentence_counts(GOLD, B, "IOB2", ["LOC", "ORG", "PER"])
    assert counts.shape == (3, 4, 3)
    assert counts[0].tolist() == [[0, 0, 0], [0, 0, 0], [0, 1, 1], [0, 1, 1]]  # PER span too short: 1 predicted, 1 gold, 0 hit
    assert counts.sum(axis=0)[-1].tolist() == [3, 4, 4]
    assert scores_of(counts.sum(axis=0))[-1] == pytest.approx(0.75)
    tokens = sentence_counts([["DET", "NOUN"]], [["DET", "VERB"]], "none", ["DET", "NOUN", "VERB"])
    assert tokens[0, -1].tolist() == [1, 2, 2]  # overall: correct tokens, tokens, tokens → accuracy 0.5


def test_the_bootstrap_agrees_with_every_resample_enumerated():
    result = compare_predictions(GOLD, [A], [B], "IOB2", runs_a=["a"], runs_b=["b"], samples=20_000, seed=3)
    counts = [sentence_counts(GOLD, side, "IOB2", ["LOC", "ORG", "PER"]) for side in (A, B)]
    differences = []
    for draw in itertools.product(range(3), repeat=3):  # all 27 equally likely resamples
        a, b = (scores_of(c[list(draw)].sum(axis=0))[-1] for c in counts)
        differences.append(b - a)
    differences = np.array(differences)
    exact_p = min(1.0, 2 * min(np.mean(differences <= 0), np.mean(differences >= 0)))
    assert result.overall.p_value == pytest.approx(exact_p, abs=0.02)
    assert result.overall.difference == pytest.approx(scores_of(counts[1].sum(axis=0))[-1] - scores_of(counts[0].sum(axis=0))[-1])
    assert result.overall.low == pytest.approx(np.percentile(differences, 2.5, method="inverted_cdf"), abs=0.02)
    assert result.overall.high == pytest.approx(np.percentile(differences, 97.5, method="inverted_cdf"), abs=0.02)


def test_the_bootstrap_is_deterministic_with_a_seed_and_pairs_the_draws():
    first = compare_predictions(GOLD, [A], [B], "IOB2", runs_a=["a"], runs_b=["b"], samples=500, seed=7)
    again = compare_predictions(GOLD, [A], [B], "IOB2", runs_a=["a"], runs_b=["b"], samples=500, seed=7)
    assert first == again
    same = compare_predictions(GOLD, [A], [A], "IOB2", runs_a=["a"], runs_b=["a"], samples=500, seed=7)
    assert (same.overall.low, same.overall.high, same.overall.p_value) == (0.0, 0.0, 1.0)  # paired: no spread at all


def test_seed_groups_average_their_runs():
    result = compare_predictions(GOLD, [A, B], [B, B], "IOB2", runs_a=["a1", "a2"], runs_b=["b1", "b2"], samples=200)
    assert result.scores_a == [pytest.approx(2 / 3), pytest.approx(0.75)]
    assert result.overall.a == pytest.approx((2 / 3 + 0.75) / 2) and result.overall.b == pytest.approx(0.75)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    data = folder / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    runs = []
    for name, scheme, epochs in (("iob2", "IOB2", 2), ("bioes", "BIOES", 30)):
        raw = tiny_config_dict(data, folder / name, epochs=epochs)
        raw["data"]["scheme"] = scheme
        runs.append(train(config_from_dict(raw)))
    return runs


def test_compare_command_on_runs_of_two_schemes(two_runs, tmp_path):
    a, b = map(str, two_runs)
    result = runner.invoke(app, ["compare", a, b, "--samples", "200", "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["runs_a"] == [a] and report["runs_b"] == [b] and report["sentences"] == 5
    assert report["overall"]["b"] == pytest.approx(json.loads((two_runs[1] / "report.json").read_text())["score"])
    result = runner.invoke(app, ["compare", "--a", a, a, "--b", b, "--samples", "50", "--device", "cpu"])
    assert result.exit_code == 0 and "over 2 run(s)" in " ".join(result.output.split()), result.output
    for args, message in [
        ([a], "expected RUN_A RUN_B or --a RUN... --b RUN..."),
        (["--a", a, "--b"], "--b needs runs"),
        (["--a", a, "--b", b, "--c", a], "unknown option --c"),
    ]:
        result = runner.invoke(app, ["compare", *args])
        assert result.exit_code == 1 and message in result.output, result.output
    other = tmp_path / "other.conll"
    other.write_text("Anna B-PER\n")
    result = runner.invoke(app, ["compare", a, b, "--data", str(other), "--samples", "10", "--device", "cpu"])
    assert result.exit_code == 0, result.output  # one file for both: the same gold tags


def test_a_cloze_run_is_refused_by_name_with_or_without_data(trained_run, cloze_run, tmp_path):
    data = tmp_path / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    for extra in ([], ["--data", str(data)]):
        result = runner.invoke(app, ["compare", str(trained_run), str(cloze_run / "run"), *extra])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert f"compare: {cloze_run / 'run'} is a cloze run; compare scores tagging runs" in result.output.replace("\n", "")


def test_runs_find_their_relative_data_from_any_directory(tmp_path, monkeypatch):
    """A run trained with relative paths is evaluated, compared and export-checked from elsewhere;
    a file that is gone is named with where it was looked for, and --check writes no export."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(FIXTURES / "tiny.conll", project / "data" / "tiny.conll")
    monkeypatch.chdir(project)
    raw = tiny_config_dict("data/tiny.conll", "runs/a", epochs=1)
    train(config_from_dict(raw))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = project / "runs" / "a"
    for command in (["evaluate", str(run)], ["compare", str(run), str(run)], ["export", str(run), "-o", "onnx", "--check"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    (project / "data" / "tiny.conll").unlink()
    result = runner.invoke(app, ["export", str(run), "-o", "onnx-2", "--check"])
    assert result.exit_code == 1 and str(project / "data" / "tiny.conll") in result.output.replace("\n", ""), result.output
    assert not (elsewhere / "onnx-2").exists()
