"""ONNX export: the exported graph tags exactly as PyTorch does (Viterbi and CRF marginals inside
it, any batch and length), predict on an export folder writes what predict on the run writes,
and it runs without PyTorch."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.onnx.export import check_export, export_model
from birnn_tag.training.loop import train

from conftest import FIXTURES, tiny_config_dict

runner = CliRunner()
# Sentences of 1 to 12 tokens, words seen and unseen, and one longer than max_length (6).
TEXTS = [
    "Peter Blackburn lives in Paris .",
    "EU rejects German call to boycott British lamb .",
    "Xyzzy",
    "Anna Berg visited Oslo and Peter Blackburn met the EU in Paris today .",
    "",
]


@pytest.fixture(
    scope="module",
    params=[("crf", "cnn", 4, "lstm"), ("softmax", "cnn", 4, "lstm"), ("crf", "lstm", 0, "lstm"), ("softmax", "none", 0, "lstm"),
            ("crf", "lstm", 4, "gru")],
)
def run(request, tmp_path_factory) -> Path:
    """A tiny NER run (max_length 6) with each head and character encoder, with and without
    casing, and with GRU cells (ONNX GRU nodes, from the dense path)."""
    head, chars, casing, cell = request.param
    folder = tmp_path_factory.mktemp(f"export-{head}-{chars}-{cell}")
    data = folder / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    raw = tiny_config_dict(data, folder / "run", epochs=8)
    raw["data"]["max_length"] = 6
    raw["model"].update(head=head, char_encoder=chars, casing_dim=casing, cell=cell)
    return train(config_from_dict(raw))


def test_export_round_trip_tags_exactly_as_pytorch(run, tmp_path):
    folder = export_model(load_model(run), tmp_path / "export")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.yaml", "export.json", "model.onnx", "vocab.json"]
    graph = onnx.load(str(folder / "model.onnx"))
    assert any(node.op_type == "Loop" for node in graph.graph.node)  # Viterbi over time, not unrolled
    exported, reference = birnn_tag.load(folder), birnn_tag.load(run, device="cpu", precision="fp32")
    assert exported.labels == reference.labels
    for texts in (TEXTS, TEXTS[:1], TEXTS[3:4] * 9):  # other batch sizes and lengths than traced
        got, expected = exported.tag(texts), reference.tag(texts)
        assert [p.tags for p in got] == [p.tags for p in expected]
        for a, b in zip(got, expected):
            # Sharp scores (the tiny run's fitted temperature is low) round differently in fp32.
            assert a.confidences == pytest.approx(b.confidences, abs=1e-4)
            assert [s.type for s in a.spans] == [s.type for s in b.spans]
    tokens = [text.split() for text in TEXTS if text]
    result = check_export(load_model(run), folder, tokens)
    assert result.passed and result.differing_tags == 0 and result.emission_gap < 1e-4


def test_predict_on_an_export_writes_what_predict_on_the_run_writes(run, tmp_path):
    result = runner.invoke(app, ["export", str(run), "-o", str(tmp_path / "export"), "--check", "--check-split", "validation"])
    assert result.exit_code == 0, result.output
    assert "check passed: 5 sentences, 0 with different tags" in " ".join(result.output.split())
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    outputs = {}
    for name, model in (("run", run), ("export", tmp_path / "export")):
        for output_format in ("conll", "jsonl"):
            target = tmp_path / f"{name}.{output_format}"
            args = ["predict", str(model), str(source), "--format", output_format, "-o", str(target)]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            outputs[name, output_format] = target.read_text()
    assert outputs["export", "conll"] == outputs["run", "conll"]  # byte for byte, the long line included
    exported = [json.loads(line) for line in outputs["export", "jsonl"].splitlines()]
    expected = [json.loads(line) for line in outputs["run", "jsonl"].splitlines()]
    assert [r["tags"] for r in exported] == [r["tags"] for r in expected]
    assert [[s["text"] for s in r["spans"]] for r in exported] == [[s["text"] for s in r["spans"]] for r in expected]


def test_an_export_runs_without_pytorch(run, tmp_path):
    folder = export_model(load_model(run), tmp_path / "export")
    script = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *args, **kwargs):\n"
        "    if name == 'torch' or name.startswith('torch.') or name == 'datasets':\n"
        "        raise ImportError('blocked: ' + name)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = guard\n"
        "from birnn_tag.cli.app import main\n"
        f"sys.argv = ['birnn-tag', 'predict', {str(folder)!r}, '-', '--pretokenized', '--format', 'jsonl']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], input="Peter lives in Paris .\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens"] == ["Peter", "lives", "in", "Paris", "."]


def test_export_refusals(run, tmp_path, cloze_run):
    (tmp_path / "taken").mkdir()
    for args, message in [
        ([str(run), "-o", str(tmp_path / "taken")], "taken: already exists; remove it or choose another -o"),
        ([str(cloze_run / "run"), "-o", str(tmp_path / "cloze")], "only tagging runs can be exported; this is a cloze run"),
        ([str(run), "-o", str(tmp_path / "x"), "--format", "tflite"], "--format 'tflite': the only export format is onnx"),
        ([str(run), "-o", str(tmp_path / "x"), "--quantize", "int4"], "--quantize 'int4': expected int8 (or no --quantize for fp32)"),
        ([str(run), "-o", str(tmp_path / "x"), "--check-tolerance", "1"], "--check-tolerance is for --quantize int8"),
    ]:
        result = runner.invoke(app, ["export", *args])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert message in " ".join(result.output.split()) and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "cloze").exists() and not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    folder = export_model(load_model(run), tmp_path / "export")
    result = runner.invoke(app, ["evaluate", str(folder)])
    assert result.exit_code == 1 and "an export folder cannot be evaluated" in result.output
    result = runner.invoke(app, ["predict", str(folder), "-", "--precision", "bf16"], input="a\n")
    assert result.exit_code == 1 and "runs on the CPU (onnxruntime) in the precision it was exported in" in " ".join(result.output.split())


def test_an_int8_export_says_so_and_tags_through_load_predict_and_the_service(run, tmp_path):
    from fastapi.testclient import TestClient

    from birnn_tag.service.app import create_app

    folder = export_model(load_model(run), tmp_path / "int8", quantize="int8")
    metadata = json.loads((folder / "export.json").read_text())
    cell = load_model(run).config.model.cell
    assert metadata["precision"] == "int8"
    # The recurrence is quantized for LSTM cells only: onnxruntime has no integer GRU kernel.
    assert ("LSTM" in metadata["quantized_nodes"]) == (cell == "lstm") and "Gather" in metadata["quantized_nodes"]
    graph = onnx.load(str(folder / "model.onnx"))
    assert any(node.op_type == "DynamicQuantizeLSTM" for node in graph.graph.node) == (cell == "lstm")
    assert "weights in int8" in (folder / "README.md").read_text()
    exported, reference = birnn_tag.load(folder), birnn_tag.load(run, device="cpu", precision="fp32")
    assert exported.describe()["precision"] == "int8"
    got, expected = exported.tag(TEXTS), reference.tag(TEXTS)
    assert [len(p.tags) for p in got] == [len(p.tags) for p in expected]
    assert {tag for p in got for tag in p.tags} <= set(reference.labels)
    result = runner.invoke(app, ["predict", str(folder), "-", "--pretokenized"], input="Peter lives in Paris .\n")
    assert result.exit_code == 0 and len(result.output.split()) >= 5, result.output
    with TestClient(create_app(exported)) as client:
        response = client.post("/tag", json={"texts": TEXTS[:2]})
    assert response.status_code == 200 and len(response.json()["results"]) == 2


def test_int8_check_reports_differing_tags_and_f1_and_gates_on_the_tolerance(run, tmp_path):
    args = ["export", str(run), "--quantize", "int8", "--check", "--check-split", "validation"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "int8")])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "check passed: 5 sentences," in output and "tags" in output and "differ from PyTorch fp32's" in output
    assert "strict micro F1" in output and "points; tolerance 0.2)" in output
    # No F1 is 101 points above another: the check fails whatever int8 tags, and keeps the export.
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "strict"), "--check-tolerance", "-101"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "check FAILED" in " ".join(result.output.split()) and (tmp_path / "strict" / "model.onnx").is_file()


def test_the_int8_gate_is_the_score_drop_against_the_tolerance():
    from birnn_tag.tagging.onnx.quantization import QuantizedCheck

    check = QuantizedCheck(10, 1, 100, 3, "strict micro F1", reference_score=0.9, score=0.898, tolerance=0.2)
    assert check.passed and "3 of 100 tags (3.00 %) differ" in check.summary() and "(-0.20 points; tolerance 0.2)" in check.summary()
    assert not dataclasses.replace(check, score=0.897).passed
    assert dataclasses.replace(check, score=0.95, tolerance=0.0).passed  # doing better never fails
