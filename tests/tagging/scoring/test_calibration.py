"""Calibrated confidences: the temperature fit lowers the NLL of a miscalibrated model, never
changes tags, is saved in the checkpoint and used by predict; ECE on hand-made cases;
predict --min-confidence."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import TaggingModelConfig
from birnn_tag.data.batching import collate
from birnn_tag.data.encoding import EncodedSentence
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocab, Vocabularies
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.scoring.calibration import fit_temperature
from birnn_tag.tagging.scoring.calibration_error import calibration_errors, expected_calibration_error
from birnn_tag.tagging.network.tagger import build_tagger

runner = CliRunner()


def test_ece_on_hand_made_cases():
    assert expected_calibration_error([0.95, 0.95], [True, True]) == pytest.approx(0.05)
    # Bin 0.6-0.7 holds two items, one right: |0.5 - 0.65|; bin 0.9-1.0 one right item at 0.9.
    assert expected_calibration_error([0.6, 0.7 - 1e-9, 0.9], [True, False, True]) == pytest.approx((2 * 0.15 + 0.1) / 3, abs=1e-6)
    errors = calibration_errors([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "B-LOC"]], [[0.9, 0.8, 0.5]], "IOB2")
    assert errors["span"] == pytest.approx(((1 - 0.72) + 0.5) / 2)  # PER right at 0.72, LOC wrong at 0.5


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_the_fit_undoes_a_crafted_overconfidence_without_changing_tags(head):
    """A model whose scores were multiplied by 50 and whose tags are right only about 60 % of the
    time is overconfident; the fitted temperature (above 1) lowers its NLL and every tag stays."""
    torch.manual_seed(0)
    config = TaggingModelConfig(word_dim=8, char_encoder="none", hidden_size=8, head=head, dropout=0.0)
    labels = ["A", "B", "C"]
    model = build_tagger(config, num_words=30, num_chars=2, labels=labels, scheme="none").eval()
    with torch.no_grad():  # sharpen: every score ×50, so that the model is nearly sure of every tag
        for parameter in model.head.parameters():
            parameter.mul_(50)
    sentences = [EncodedSentence(torch.randint(2, 30, (n,)), None) for n in (3, 5, 4, 6, 2) * 8]
    batch = collate(sentences, list(range(len(sentences))))
    with torch.no_grad():
        tags, _ = model.decode(batch, False)
        # The model's own tags, 40 % of them replaced by random labels: gold it is over-sure of.
        gold = [[labels[t] for t in row[: len(s)].tolist()] for row, s in zip(tags, sentences)]
    noise = torch.Generator().manual_seed(1)
    for row in gold:
        for position in range(len(row)):
            if torch.rand((), generator=noise) < 0.4:
                row[position] = labels[int(torch.randint(3, (), generator=noise))]
    vocabs = Vocabularies(Vocab([f"w{i}" for i in range(28)]), Vocab([]), Vocab(labels, specials=False))
    split = Split(sentences, gold, [1] * len(sentences), None, gold)
    fitted = fit_temperature(model, split, vocabs, torch.device("cpu"))
    assert fitted.nll_after < fitted.nll_before and fitted.temperature > 1
    model.head.temperature.fill_(fitted.temperature)
    with torch.no_grad():
        calibrated_tags, confidences = model.decode(batch)
        _, sharp = (model.head.temperature.fill_(1.0), model.decode(batch))[1]
    assert torch.equal(calibrated_tags, tags)
    assert confidences[batch.mask].mean() < sharp[batch.mask].mean()


def test_training_saves_the_temperature_and_predict_uses_it(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    payload = torch.load(run / "best.pt", weights_only=True)
    assert "calibration" in payload and payload["model"]["head.temperature"] == pytest.approx(payload["calibration"]["temperature"])
    report = json.loads((run / "report-test.json").read_text())
    assert set(report["calibration"]["ece_after"]) == {"token", "span"}
    texts = ["Peter Blackburn lives in Paris .", "Anna Berg visited Oslo ."]
    calibrated = birnn_tag.load(run, device="cpu").tag(texts)
    loaded = load_model(run)
    loaded.model.head.temperature.fill_(2.0)
    torch.save(payload | {"model": loaded.model.state_dict()}, run / "best.pt")
    hotter = birnn_tag.load(run, device="cpu").tag(texts)
    assert [p.tags for p in hotter] == [p.tags for p in calibrated]
    assert hotter[0].confidences != calibrated[0].confidences
    result = runner.invoke(app, ["calibrate", str(run)])
    assert result.exit_code == 0 and "temperature" in result.output, result.output
    refitted = torch.load(run / "best.pt", weights_only=True)["model"]["head.temperature"]
    assert float(refitted) == pytest.approx(payload["calibration"]["temperature"], rel=1e-4)


def test_min_confidence_drops_spans_and_says_how_many(trained_run, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Peter Blackburn lives in Paris .\nAnna Berg visited Oslo .\n")
    result = runner.invoke(app, ["predict", str(trained_run), str(source), "--format", "jsonl", "--device", "cpu"])
    everything = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    confidences = sorted(span["confidence"] for record in everything for span in record["spans"])
    threshold = confidences[len(confidences) // 2]
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", str(trained_run), str(source), "--format", "jsonl", "--min-confidence", str(threshold), "-o", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    kept = [span for line in out.read_text().splitlines() for span in json.loads(line)["spans"]]
    dropped = len(confidences) - len(kept)
    assert all(span["confidence"] >= threshold - 5e-5 for span in kept) and dropped >= 1
    assert f"--min-confidence {threshold}: dropped {dropped} of {len(confidences)} spans" in " ".join(result.output.split())
    result = runner.invoke(app, ["predict", str(trained_run), str(source), "--min-confidence", "0.5"])
    assert result.exit_code == 1 and "--min-confidence: filters the spans of JSONL output" in result.output
