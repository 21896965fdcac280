"""Taggers on transformer features (model.transformer), with a tiny random BERT written here:
cached frozen features, tagging on the fly, portable run folders, fine-tuning."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

pytest.importorskip("transformers")

import birnn_tag  # noqa: E402
from birnn_tag.config import config_from_dict  # noqa: E402
from birnn_tag.contextual import transformer  # noqa: E402
from birnn_tag.contextual.transformer import TransformerFeatures  # noqa: E402
from birnn_tag.data.reading.conll import ColumnFormat, read_conll  # noqa: E402
from birnn_tag.errors import BirnnTagError, ConfigError  # noqa: E402
from birnn_tag.training.events import EpochDone  # noqa: E402
from birnn_tag.tagging.scoring.evaluation import split_predictions  # noqa: E402
from birnn_tag.tagging.onnx.export import export_model  # noqa: E402
from birnn_tag.training.loop import train  # noqa: E402

from conftest import tiny_config_dict  # noqa: E402
from test_transformer_features import tiny_bert  # noqa: E402

SENTENCE = "Anna Berg visited Paris ."


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(transformer, "has_native_bf16", lambda device: False)


@pytest.fixture
def bert(tmp_path):
    (tmp_path / "bert").mkdir()
    return tiny_bert(tmp_path / "bert" / "model", seed=0)


def config(tiny_conll, run, bert, **transformer_settings):
    raw = tiny_config_dict(tiny_conll, run, epochs=3)
    raw["model"]["transformer"] = {"name": str(bert), "layers": [-1, -2], **transformer_settings}
    return raw


def counting_calls(monkeypatch) -> list[int]:
    calls = [0]
    forward = TransformerFeatures.forward

    def counted(self, sentences):
        calls[0] += 1
        return forward(self, sentences)

    monkeypatch.setattr(TransformerFeatures, "forward", counted)
    return calls


def test_frozen_features_are_computed_once_then_read_from_the_cache(tmp_path, tiny_conll, bert, monkeypatch):
    calls = counting_calls(monkeypatch)
    at_epochs = []
    def on_event(event):
        if isinstance(event, EpochDone):
            at_epochs.append(calls[0])

    folder = train(config_from_dict(config(tiny_conll, tmp_path / "run", bert)), on_event=on_event)
    assert calls[0] > 0 and at_epochs == [calls[0]] * 3  # no call after the splits' features were cached
    assert list((tmp_path / "hf-cache" / "birnn-tag-features").glob("*.npy"))
    calls[0] = 0
    train(config_from_dict(config(tiny_conll, tmp_path / "again", bert)))
    assert calls[0] == 0  # a second run on the same data reads the cache
    kept = folder / "transformer"
    assert (kept / "config.json").is_file() and (kept / "tokenizer.json").is_file()
    assert json.loads((kept / "fingerprint.json").read_text())["sha256"]
    state = torch.load(folder / "best.pt", weights_only=True)["model"]
    assert not any(".model." in key for key in state) and "embedder.mixes.0.weights" in state


def test_predict_computes_features_on_the_fly_and_matches_scoring(tmp_path, tiny_conll, bert):
    folder = train(config_from_dict(config(tiny_conll, tmp_path / "run", bert)))
    model = birnn_tag.load(folder)
    _, from_cache = split_predictions(model.loaded, split="test", device=torch.device("cpu"))
    sentences = read_conll(tiny_conll, ColumnFormat(token_column=0, tag_column=3))["tokens"]
    on_the_fly = [p.tags for p in model.tag(sentences, pretokenized=True)]
    assert on_the_fly == from_cache


def test_a_missing_or_different_transformer_is_a_one_line_error(tmp_path, tiny_conll, bert):
    folder = train(config_from_dict(config(tiny_conll, tmp_path / "run", bert)))
    shutil.rmtree(bert)
    with pytest.raises(BirnnTagError, match=r"model.transformer.name: cannot load .*this run was trained with .*sha256") as error:
        birnn_tag.load(folder)
    assert "\n" not in str(error.value)
    tiny_bert(bert, seed=1)  # other weights at the same place
    with pytest.raises(BirnnTagError, match="is not the model this run was trained with"):
        birnn_tag.load(folder)


def test_fine_tuned_weights_are_kept_and_load_without_the_original(tmp_path, tiny_conll, bert):
    raw = config(tiny_conll, tmp_path / "run", bert, fine_tune=True, pooling="mean")
    before = TransformerFeatures(str(bert), [-1]).model.state_dict()
    folder = train(config_from_dict(raw))
    state = torch.load(folder / "best.pt", weights_only=True)["model"]
    tuned = {key.split("contexts.0.model.", 1)[1]: value for key, value in state.items() if key.startswith("contexts.0.model.")}
    assert tuned and any(not torch.equal(tuned[key], before[key]) for key in before)  # trained
    first = birnn_tag.load(folder).tag([SENTENCE])
    shutil.rmtree(bert)  # the run has the weights, the config and the tokenizer
    again = birnn_tag.load(folder).tag([SENTENCE])
    assert again[0].tags == first[0].tags and again[0].confidences == pytest.approx(first[0].confidences)
    assert not list((tmp_path / "hf-cache").rglob("*.npy"))  # fine-tuned features are never cached


def test_transformer_features_alone(tmp_path, tiny_conll, bert):
    raw = config(tiny_conll, tmp_path / "run", bert, pooling="last")
    raw["model"].update(word_dim=0, char_encoder="none", casing_dim=0)
    raw["training"]["epochs"] = 30
    folder = train(config_from_dict(raw))
    assert json.loads((folder / "report-test.json").read_text())["score"] > 0.5  # learnt from the features alone
    raw["model"].pop("transformer")
    with pytest.raises(ConfigError, match="model.word_dim: 0"):
        config_from_dict(raw)


def test_export_refuses_contextual_runs(tmp_path, tiny_conll, bert):
    folder = train(config_from_dict(config(tiny_conll, tmp_path / "run", bert)))
    with pytest.raises(BirnnTagError, match="contextual features"):
        export_model(birnn_tag.load(folder).loaded, tmp_path / "export")


def test_other_layers_or_pooling_get_their_own_cache_file(tmp_path, tiny_conll, bert):
    cache = tmp_path / "hf-cache" / "birnn-tag-features"
    train(config_from_dict(config(tiny_conll, tmp_path / "a", bert)))
    first = set(cache.glob("*.npy"))
    train(config_from_dict(config(tiny_conll, tmp_path / "b", bert, layers=[-1])))
    second = set(cache.glob("*.npy")) - first
    train(config_from_dict(config(tiny_conll, tmp_path / "c", bert, pooling="mean")))
    third = set(cache.glob("*.npy")) - first - second
    assert first and second and third


@pytest.mark.parametrize("fine_tune", [False, True])
def test_a_contextual_run_resumes_and_is_overwritten(tmp_path, tiny_conll, bert, fine_tune):
    raw = config(tiny_conll, tmp_path / "run", bert, fine_tune=fine_tune)
    whole = train(config_from_dict({**raw, "output": {"dir": str(tmp_path / "whole")}}))
    raw["training"]["epochs"] = 2
    train(config_from_dict(raw))
    raw["training"]["epochs"] = 3
    resumed = train(config_from_dict(raw), resume=True)
    for name in ("best.pt", "last.pt"):
        a, b = (torch.load(folder / name, weights_only=True)["model"] for folder in (whole, resumed))
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    raw["output"]["overwrite"] = True
    train(config_from_dict(raw))  # a run folder with its transformer/ subfolder is a run, replaced whole
    assert (resumed / "transformer" / "fingerprint.json").is_file()


def test_default_layers_are_the_top_ones_the_model_has(tmp_path, tiny_conll, bert):
    raw = config(tiny_conll, tmp_path / "run", bert)
    del raw["model"]["transformer"]["layers"]  # the 2-layer model has 3 hidden states, not the 4 a base model mixes
    folder = train(config_from_dict(raw))
    model = birnn_tag.load(folder, device="cpu")
    assert [context.layers for context in model.loaded.model.contexts] == [[2, 1, 0]]
    assert len(model.tag(["Anna lives in Oslo ."])[0].tags) == 5
