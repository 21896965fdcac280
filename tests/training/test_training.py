"""End-to-end training on the tiny fixture: overfitting, run folder contents, checkpoints, resume."""

import json

import pytest
import torch
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from birnn_tag.config import config_from_dict
from birnn_tag.training.epoch import clip_gradients
from birnn_tag.training.events import Message
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.scoring.evaluation import evaluate_tags, load_scored_split
from birnn_tag.tagging.prediction.decoding import decode_sentences
from birnn_tag.training.loop import train

from conftest import needs_native_bf16, tiny_config_dict


def test_tiny_dataset_overfits_and_run_folder_is_complete(trained_run):
    for name in ("config.yaml", "vocab.json", "best.pt", "last.pt", "metrics.jsonl", "report.txt", "report.json"):
        assert (trained_run / name).is_file(), name
    report = json.loads((trained_run / "report.json").read_text())
    assert report["scores"]["micro avg"]["f1-score"] == 1.0
    assert report["mode"] == "strict" and report["scheme"] == "IOB2"
    epochs = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == list(range(1, 41))
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_checkpoint_round_trip_gives_identical_predictions(trained_run):
    first, second = load_model(trained_run), load_model(trained_run / "best.pt")
    sentences = load_scored_split(first, split="test").sentences
    a = decode_sentences(first.model, sentences, 2, torch.device("cpu"))
    b = decode_sentences(second.model, sentences, 2, torch.device("cpu"))
    assert a == b
    # One-by-one decoding agrees with batched decoding (confidences up to float rounding).
    tags, confidences = decode_sentences(first.model, sentences, 1, torch.device("cpu"))
    assert tags == a[0]
    for row, expected in zip(confidences, a[1]):
        assert torch.allclose(torch.tensor(row), torch.tensor(expected), atol=1e-6)


def test_resume_continues_to_the_same_weights(tmp_path, tiny_conll):
    full = train(config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "full", epochs=4)))
    train(config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "part", epochs=2)))
    resumed = train(config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "part", epochs=4)), resume=True)
    a = torch.load(full / "last.pt", weights_only=True)["model"]
    b = torch.load(resumed / "last.pt", weights_only=True)["model"]
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert len((resumed / "metrics.jsonl").read_text().splitlines()) == 4


def test_resume_warns_about_ignored_overrides(tmp_path, tiny_conll):
    train(config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "run", epochs=1)))
    events = []
    changed = tiny_config_dict(tiny_conll, tmp_path / "run", epochs=2)
    changed["model"]["hidden_size"] = 32
    train(config_from_dict(changed), resume=True, on_event=events.append)
    warnings = [event.text for event in events if isinstance(event, Message) and event.level == "warning"]
    assert len(warnings) == 1 and "ignoring model.hidden_size" in warnings[0]


def test_report_matches_seqeval():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "I-MISC", "I-MISC"]]
    report = evaluate_tags(gold, pred, "IOB2")
    expected = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    for name, row in expected.items():
        for key, value in row.items():
            assert report.scores[name][key] == float(value), (name, key)
    assert report.f1 == expected["micro avg"]["f1-score"]
    assert report.token_accuracy == 6 / 8
    # Strict mode: the I-MISC I-MISC span is not an entity in IOB2, so MISC recall is 0...
    assert report.scores["MISC"]["recall"] == 0.0
    # ...while conlleval (seqeval's default mode) reads it as a MISC entity: 2 of 4 gold found.
    lenient = classification_report(gold, pred, output_dict=True, zero_division=0)["micro avg"]
    assert report.conlleval["f1-score"] == lenient["f1-score"] > report.f1


def test_clip_gradients_equals_clip_grad_norm_inside_and_beyond_the_bound():
    for scale in (0.01, 100.0):  # total norm far below and far above max_norm
        torch.manual_seed(0)
        ours, reference = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
        reference.load_state_dict(ours.state_dict())
        inputs = torch.randn(4, 5)
        for model in (ours, reference):
            (model(inputs).sum() * scale).backward()
        clip_gradients(ours, max_norm=1.0)
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        for mine, theirs in zip(ours.parameters(), reference.parameters()):
            assert torch.equal(mine.grad, theirs.grad)



def test_training_precision_bf16_is_refused_before_anything_where_the_cpu_has_no_native_bf16(tmp_path, tiny_conll, monkeypatch):
    from birnn_tag.errors import ConfigError
    from birnn_tag.runtime import precision

    monkeypatch.setattr(precision, "has_native_bf16", lambda device: False)
    raw = tiny_config_dict(tiny_conll, tmp_path / "run", epochs=2)
    raw["training"]["precision"] = "bf16"
    with pytest.raises(ConfigError, match="^training.precision: bf16 needs a CPU that multiplies bfloat16 natively"):
        train(config_from_dict(raw))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
    raw["training"]["precision"] = "auto"  # fp32 there: trains
    assert (train(config_from_dict(raw)) / "best.pt").is_file()


@needs_native_bf16
def test_training_in_bf16_learns_the_tiny_set_as_fp32_does(tmp_path, tiny_conll):
    """bf16 autocast with fp32 master weights: the weights stay fp32 and the run fits the data."""
    raw = tiny_config_dict(tiny_conll, tmp_path / "run")
    raw["training"]["precision"] = "bf16"
    run = train(config_from_dict(raw))
    loaded = load_model(run)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    assert json.loads((run / "report.json").read_text())["score"] == 1.0
