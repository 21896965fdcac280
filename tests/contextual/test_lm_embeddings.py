"""TagLM: a cloze run's states as a tagger's features (model.lm_embeddings), and cloze data lists."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.contextual.lm_states import LMStates
from birnn_tag.data.reading.conll import ColumnFormat, read_conll
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.scoring.evaluation import split_predictions
from birnn_tag.training.loop import train

from conftest import SENTENCES, task_splits, tiny_config_dict

runner = CliRunner()


@pytest.fixture(autouse=True)
def feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path / "hf-cache" / "birnn-tag-features"


def test_states_include_the_word_itself_and_only_its_side(cloze_run):
    states = LMStates(load_model(cloze_run / "run" / "best.pt"))
    words = SENTENCES[0].split()
    hidden = states.dim // 2
    base = states([words])[0, :, 0]  # (time, 2 * hidden)
    assert base.shape == (len(words), 2 * hidden)
    t = 4
    changed = states([words[:t] + ["anna"] + words[t + 1 :]])[0, :, 0]
    # Forward half at t has read x_<=t: it changes at t and after, never before.
    assert torch.allclose(base[:t, :hidden], changed[:t, :hidden])
    assert not torch.allclose(base[t, :hidden], changed[t, :hidden])
    # Backward half at t has read x_>=t: it changes at t and before, never after.
    assert torch.allclose(base[t + 1 :, hidden:], changed[t + 1 :, hidden:])
    assert not torch.allclose(base[t, hidden:], changed[t, hidden:])


def test_padding_never_changes_states_and_unknown_words_are_the_lms_unk(cloze_run):
    states = LMStates(load_model(cloze_run / "run" / "best.pt"))
    short, long = SENTENCES[1].split()[:3], SENTENCES[2].split()
    alone = states([short])
    together = states([long, short])
    assert torch.allclose(alone[0], together[1, : len(short)], atol=1e-6)
    assert torch.all(together[1, len(short) :] == 0)
    unknown = states([["Zyxxy", "qqq"]])
    assert torch.allclose(unknown, states([["<unk>", "<unk>"]]))


def test_a_tagging_run_is_not_a_language_model(trained_run, tmp_path, tiny_conll):
    raw = tiny_config_dict(tiny_conll, tmp_path / "tagger", epochs=1)
    raw["model"]["lm_embeddings"] = str(trained_run)
    with pytest.raises(BirnnTagError, match="model.lm_embeddings: .* is a tagging run; expected a cloze run"):
        train(config_from_dict(raw))
    raw["model"]["lm_embeddings"] = str(tmp_path / "nowhere")
    with pytest.raises(BirnnTagError, match="model.lm_embeddings: .*nowhere: no cloze run there"):
        train(config_from_dict(raw))


def test_taglm_trains_predicts_and_keeps_its_lm(cloze_run, tmp_path, tiny_conll, feature_cache):
    lm = tmp_path / "lm"
    shutil.copytree(cloze_run / "run", lm)
    raw = tiny_config_dict(tiny_conll, tmp_path / "tagger", epochs=3)
    raw["model"]["lm_embeddings"] = str(lm)
    folder = train(config_from_dict(raw))
    assert (folder / "lm.pt").is_file()
    cached = list(feature_cache.glob("*.npy"))
    assert cached  # the splits' LM states were computed once, into the cache
    model = birnn_tag.load(folder)
    first = model.tag(["EU rejects German call ."])
    assert len(model.loaded.model.contexts) == 1
    assert not any(name.startswith("contexts.") for name in model.loaded.model.state_dict())
    shutil.rmtree(lm)  # the run keeps its own copy of the LM
    again = birnn_tag.load(folder).tag(["EU rejects German call ."])
    assert [p.tags for p in again] == [p.tags for p in first]
    assert again[0].confidences == pytest.approx(first[0].confidences, abs=1e-6)
    # Scoring reads the cached states; tagging on the fly gives the same tags.
    model = birnn_tag.load(folder)
    assert model.evaluate("test").score == pytest.approx(json.loads((folder / "report-test.json").read_text())["score"])
    _, from_cache = split_predictions(model.loaded, split="test", device=torch.device("cpu"))
    sentences = read_conll(tiny_conll, ColumnFormat(token_column=0, tag_column=3))["tokens"]
    assert [p.tags for p in model.tag(sentences, pretokenized=True)] == from_cache
    (folder / "lm.pt").unlink()
    with pytest.raises(BirnnTagError, match="lm.pt: missing"):
        birnn_tag.load(folder)


def test_cloze_reads_a_list_of_text_and_conll_files(tmp_path, tiny_conll):
    (tmp_path / "a.txt").write_text(SENTENCES[0] + "\n")
    config = {
        "task": "cloze",
        "data": {"train": [str(tmp_path / "a.txt"), str(tiny_conll)], "token_column": 0},
        "model": {"word_dim": 8, "hidden_size": 8},
        "training": {"epochs": 1, "progress": False, "device": "cpu", "threads": 1},
        "output": {"dir": str(tmp_path / "run")},
    }
    vocabs, splits = task_splits(config_from_dict(config))
    assert "especially" in vocabs.words and "Anna" in vocabs.words  # text words and column 0 of the CoNLL file
    assert "I-PER" not in vocabs.words and "-DOCSTART-" not in vocabs.words
    assert len(splits["train"].sentences) == 1 + 5
    tagger = tiny_config_dict(tiny_conll, tmp_path / "t")
    tagger["data"]["train"] = [str(tiny_conll)]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(tagger))
    result = runner.invoke(app, ["train", str(tmp_path / "t.yaml")])
    assert result.exit_code != 0 and "data.train: a list of files is read by the cloze task only" in result.output
