"""predict --k-best: each sentence's K most probable tag sequences (CRF heads), best first, the
first equal to the Viterbi tags, forbidden sequences never listed; long sentences combine their
pieces' lists."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.tagging.prediction.streaming import _join_k_best
from birnn_tag.tagging.data.schemes import first_invalid
from birnn_tag.training.loop import train

from conftest import FIXTURES, tiny_config_dict

runner = CliRunner()


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("k-best")
    data = folder / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    raw = tiny_config_dict(data, folder / "run", epochs=5)
    raw["data"]["max_length"] = 4
    raw["model"]["head"] = "crf"
    return train(config_from_dict(raw))


def test_k_best_is_ordered_starts_with_viterbi_and_stays_valid(crf_run):
    tagger = birnn_tag.load(crf_run, device="cpu")
    texts = ["Peter Blackburn lives in Paris .", "Anna", "EU rejects German call to boycott British lamb ."]
    for prediction in tagger.tag_stream(texts, k_best=5):
        assert len(prediction.k_best) == 5
        probabilities = [p for _, p in prediction.k_best]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
        assert prediction.k_best[0][0] == prediction.tags
        # A path is never likelier than any of its tokens' marginals (both at the fitted temperature).
        assert prediction.k_best[0][1] <= min(prediction.confidences) + 1e-4
        assert len({tuple(tags) for tags, _ in prediction.k_best}) == 5
        assert all(first_invalid(tags, "IOB2") is None for tags, _ in prediction.k_best)


def test_empty_tokens_are_refused_with_their_place(crf_run):
    tagger = birnn_tag.load(crf_run, device="cpu")
    with pytest.raises(birnn_tag.BirnnTagError, match=r"sentence 2 token 2: expected a non-empty string, got ' '"):
        tagger.tag_tokens([["EU"], ["EU", " "]])


def test_pieces_combine_into_the_sentences_k_best():
    # Two pieces with 2 and 2 paths: the sentence's best 3 of the 4 products.
    lists = [[([1], 0.6), ([2], 0.4)], [([3, 3], 0.7), ([4, 4], 0.3)], [([5], 1.0)]]
    joined = _join_k_best(lists, [2, 1, 0], 3)
    assert [(path, round(p, 6)) for path, p in joined[0]] == [([1, 3, 3], 0.42), ([2, 3, 3], 0.28), ([1, 4, 4], 0.18)]
    assert joined[1] == [([5], 1.0)] and joined[2] == [([], 1.0)]


def test_predict_writes_k_best_in_jsonl_and_refuses_what_cannot_have_it(crf_run, trained_run, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Peter Blackburn lives in Paris .\n")
    result = runner.invoke(app, ["predict", str(crf_run), str(source), "--format", "jsonl", "--k-best", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.splitlines()[0])
    assert [entry["tags"] for entry in record["k_best"]][0] == record["tags"] and len(record["k_best"]) == 3
    for args, message in [
        ([str(crf_run), str(source), "--k-best", "3"], "--k-best: the sequences are written in JSONL only"),
        ([str(trained_run), str(source), "--format", "jsonl", "--k-best", "3"], "--k-best: needs a CRF head (model.head: crf)"),
    ]:
        result = runner.invoke(app, ["predict", *args])
        assert result.exit_code == 1 and message in result.output, result.output
