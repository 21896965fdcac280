"""Checkpoints written before the public API and the task registry still load and give the
answers they gave then (fixtures trained by commit acc5ebc on the tiny fixture, 2 epochs)."""

from pathlib import Path

import pytest
import torch

import birnn_tag
from birnn_tag.config import config_from_dict
from birnn_tag.errors import ConfigError
from birnn_tag.runs.checkpoint import read_checkpoint

OLD = Path(__file__).parent / "fixtures" / "old-runs"


def test_an_old_tagger_loads_and_tags_as_it_did():
    tagger = birnn_tag.load(OLD / "tagger.pt", device="cpu")
    first, second = tagger.tag(["Anna Berg visited Oslo .", "Tom flew to Paris and Oslo ."])
    # What the code that wrote the checkpoint predicted for these sentences.
    assert first.tags == ["O"] * 5 and second.tags == ["O"] * 7
    assert first.confidences == pytest.approx([0.2781, 0.2568, 0.2663, 0.2423, 0.2709], abs=1e-4)
    assert second.confidences == pytest.approx([0.2667, 0.2759, 0.2761, 0.2475, 0.2532, 0.2374, 0.2693], abs=1e-4)


def test_a_saved_config_with_the_other_tasks_settings_still_loads(tmp_path):
    # Before model settings were checked per task, a tagger's config could set cloze-only keys,
    # which it ignored; its checkpoint loads as it did, though a config file like it is refused.
    payload = torch.load(OLD / "tagger.pt", weights_only=True)
    payload["config"]["model"]["direction"] = "forward"
    torch.save(payload, tmp_path / "best.pt")
    (prediction,) = birnn_tag.load(tmp_path / "best.pt", device="cpu").tag(["Anna Berg visited Oslo ."])
    assert prediction.tags == ["O"] * 5
    with pytest.raises(ConfigError, match="model.direction: applies to cloze models; this is a tagging config"):
        config_from_dict(payload["config"])


def test_an_old_cloze_model_loads_and_fills_as_it_did():
    filler = birnn_tag.load(OLD / "cloze.pt", device="cpu")
    (answer,) = filler.fill(["joe likes ___ , especially fried ."], top_k=3)
    candidates = answer.blanks[0].candidates
    assert [c.word for c in candidates] == ["drives", ",", "likes"]
    assert [c.prob for c in candidates] == pytest.approx([0.104397, 0.099389, 0.086814], abs=1e-5)


def test_an_old_tagger_tokenizes_text_as_it_did_and_an_old_cloze_model_keeps_its_tokenizer():
    # Format 1 recorded data.tokenizer (whitespace by default) for cloze text only: a tagger's text
    # was tokenized CoNLL/PTB-style, which its run now records as the default tokenizer.
    assert torch.load(OLD / "tagger.pt", weights_only=True)["config"]["data"]["tokenizer"] == "whitespace"
    tagger = birnn_tag.load(OLD / "tagger.pt", device="cpu")
    assert tagger.config.data.tokenizer == "default"
    assert tagger.tag(["Tom's car (Oslo)"])[0].tokens == ["Tom", "'s", "car", "(", "Oslo", ")"]
    assert read_checkpoint(OLD / "cloze.pt")["config"]["data"]["tokenizer"] == "whitespace"
