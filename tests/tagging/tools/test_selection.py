"""``select``: the inputs a tagger is least sure of come first, by each strategy's formula; the
CLI writes what the API returns."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.prediction.streaming import Prediction
from birnn_tag.tagging.tools.selection import uncertainty

TEXTS = ["Anna Berg visited Oslo .", "Acme hired Tom .", "Xyzzy plugh frobs Quux .", "Tom flew to Paris and Oslo .",
         "Zorg met Blarg in Fnord .", "Zorg met Blarg in Fnord today ."]


def prediction(k_best: list[float], length: int = 4) -> Prediction:
    return Prediction("a b c d", ["a", "b", "c", "d"][:length], [], ["O"] * length, [0.9] * length, "IOB2",
                      [(["O"] * length, p) for p in k_best])


def test_each_strategy_scores_as_its_formula():
    p = prediction([0.5, 0.3, 0.2])
    assert uncertainty(p, "least-confidence", False) == pytest.approx(0.5)
    assert uncertainty(p, "least-confidence", True) == pytest.approx(-math.log(0.5) / 4)
    assert uncertainty(p, "margin", False) == pytest.approx(1 - 0.2)
    assert uncertainty(p, "margin", True) == pytest.approx(-(math.log(0.5) - math.log(0.3)) / 4)
    entropy = -sum(q * math.log(q) for q in (0.5, 0.3, 0.2))
    assert uncertainty(p, "entropy", False) == pytest.approx(entropy)
    assert uncertainty(p, "entropy", True) == pytest.approx(entropy / 4)
    assert uncertainty(prediction([0.99, 0.01]), "margin", False) < uncertainty(prediction([0.5, 0.49]), "margin", False)


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory):
    from birnn_tag.config import config_from_dict
    from conftest import FIXTURES, tiny_config_dict

    folder = tmp_path_factory.mktemp("crf")
    raw = tiny_config_dict(FIXTURES / "tiny.conll", folder / "run", epochs=10)
    raw["model"]["head"] = "crf"
    return birnn_tag.train(config_from_dict(raw))


def test_select_ranks_the_least_sure_first_and_keeps_n(crf_run):
    tagger = birnn_tag.load(crf_run, device="cpu")
    assert tagger.scores_sequences
    for strategy in ("least-confidence", "margin", "entropy"):
        chosen = birnn_tag.select(tagger, TEXTS, 3, strategy)
        assert len(chosen) == 3 and [c.score for c in chosen] == sorted((c.score for c in chosen), reverse=True)
        everything = birnn_tag.select(tagger, TEXTS, len(TEXTS), strategy)
        assert [c.index for c in everything[:3]] == [c.index for c in chosen]
        assert chosen[0].prediction.text == TEXTS[chosen[0].index]
    assert [c.index for c in birnn_tag.select(tagger, TEXTS, 3, "random", seed=1)] == [
        c.index for c in birnn_tag.select(tagger, TEXTS, 3, "random", seed=1)]
    # Near-duplicates: with the diversity step only one of the two Zorg sentences is taken.
    zorgs = lambda chosen: sum(c.prediction.text.startswith("Zorg") for c in chosen)  # noqa: E731
    assert zorgs(birnn_tag.select(tagger, TEXTS, len(TEXTS), "least-confidence", diversity=0.7)) == 1
    assert zorgs(birnn_tag.select(tagger, TEXTS, len(TEXTS), "least-confidence")) == 2
    with pytest.raises(BirnnTagError, match="strategy: unknown 'greedy'"):
        birnn_tag.select(tagger, TEXTS, 3, "greedy")


def test_the_cli_writes_what_the_api_returns(crf_run, tmp_path):
    path = tmp_path / "unlabelled.txt"
    path.write_text("\n".join(TEXTS) + "\n")
    result = CliRunner().invoke(app, ["select", str(crf_run), str(path), "-n", "3", "--strategy", "margin", "--normalize"])
    assert result.exit_code == 0, result.output
    expected = birnn_tag.select(birnn_tag.load(crf_run, device="cpu"), TEXTS, 3, "margin", normalize=True)
    assert [json.loads(line) for line in result.stdout.splitlines()] == json.loads(json.dumps([c.to_record() for c in expected]))


def test_sequence_strategies_need_a_crf(trained_run):
    tagger = birnn_tag.load(trained_run, device="cpu")  # the tiny run's softmax head
    assert len(birnn_tag.select(tagger, TEXTS, 2, "least-confidence")) == 2
    with pytest.raises(BirnnTagError, match="strategy margin: needs the k best sequences of a CRF run"):
        birnn_tag.select(tagger, TEXTS, 2, "margin")
