"""The CLI as a user meets it: exit codes, one-line messages naming the file/line/key, outputs."""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from typer.testing import CliRunner

from birnn_tag.runtime import precision
from birnn_tag.cli.app import app
from conftest import needs_native_bf16

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def refused_choice(result, option, value, choices):
    """Typer refuses a value outside an option's choices before anything runs: usage error 2,
    naming the option, the value and the choices."""
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())  # the message's box wraps lines
    assert f"Invalid value for '{option}'" in text and f"{value!r} is not one of {choices}" in text, text


def one_line_error(result, pattern):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert pattern in lines[0] or pattern in result.output.replace("\n", ""), result.output


def test_train_evaluate_predict_round_trip(tmp_path, tiny_config):
    result = invoke("train", tiny_config, "--set", "training.epochs=2")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["epochs"] == 2
    result = invoke("evaluate", run, "--split", "validation", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "micro avg" in result.output
    assert json.loads((run / "report-validation.json").read_text())["mode"] == "strict"


def test_evaluate_a_split_the_run_does_not_have(tmp_path, tiny_config):
    result = invoke("train", tiny_config, "--set", "training.epochs=1", "--set", "data.test=null")
    assert result.exit_code == 0, result.output
    one_line_error(invoke("evaluate", tmp_path / "run", "--split", "test"), "no 'test' split in the run's data (have: train, validation)")


def test_config_typo(tmp_path, tiny_config):
    one_line_error(invoke("train", tiny_config, "--set", "model.hiden_size=3"), "did you mean 'hidden_size'")


def test_run_folder_exists(tmp_path, tiny_config):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("precious")
    one_line_error(invoke("train", tiny_config), "run folder exists")
    assert (tmp_path / "run" / "keep.txt").read_text() == "precious"


def test_resume_auto_starts_a_run_then_continues_it(tmp_path, tiny_config):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("precious")
    one_line_error(invoke("train", tiny_config, "--resume", "auto"), "run folder exists")  # not a run: never replaced
    (run / "keep.txt").unlink()
    # What a run killed before its first checkpoint leaves is replaced: the run starts.
    (run / ".birnn-tag.lock").write_text("1\n")
    (run / "config.yaml").write_text("killed: true\n")
    for epochs in (1, 2):
        result = invoke("train", tiny_config, "--set", f"training.epochs={epochs}", "--resume", "auto")
        assert result.exit_code == 0, result.output
        assert len((run / "metrics.jsonl").read_text().splitlines()) == epochs
    assert "killed" not in yaml.safe_load((run / "config.yaml").read_text())  # the new run's config
    result = invoke("train", tiny_config, "--resume", "--set", "training.epochs=3")  # alone, --resume still means yes
    assert result.exit_code == 0, result.output
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    (run / "last.pt").unlink()  # a finished run without its last.pt is not replaced
    one_line_error(invoke("train", tiny_config, "--resume", "auto"), "--resume auto: holds a run with no last.pt to resume")
    assert (run / "report.json").is_file()


@pytest.mark.parametrize(
    "content,message",
    [
        (b"a O\nb NN O\n", "bad.txt:2: expected 2 columns, found 3"),
        (b"a O\nb\tO\n", "bad.txt:2: mixed separators"),
        (b"a O\nb\xe9 O\n", "bad.txt:2: not valid UTF-8"),
        (b"a B-PER\nb PER\n", "bad.txt:1 token 2: tag 'PER' has none; set data.scheme: none"),
        (b"", "bad.txt: file is empty"),
    ],
)
def test_bad_training_files(tmp_path, tiny_config, content, message):
    (tmp_path / "bad.txt").write_bytes(content)
    one_line_error(invoke("train", tiny_config, "--set", f"data.train={tmp_path / 'bad.txt'}"), message)


def test_missing_training_file(tmp_path, tiny_config):
    one_line_error(invoke("train", tiny_config, "--set", f"data.train={tmp_path / 'nope.txt'}"), "nope.txt: file not found")


def test_long_sentence_refused_when_configured(tmp_path, tiny_config):
    result = invoke("train", tiny_config, "--set", "data.max_length=3", "--set", "data.long_sentences=error")
    one_line_error(result, "longer than data.max_length=3")


def test_evaluate_other_file_keeps_its_full_name(tmp_path, trained_run):
    data = tmp_path / "eng.testb.conll"
    data.write_text("Anna I-PER\nvisited O\nOslo I-LOC\n")
    result = invoke("evaluate", trained_run, "--data", data, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (trained_run / "report-data-eng.testb.conll.json").is_file()
    assert (trained_run / "report-data-eng.testb.conll.txt").is_file()


def test_unknown_label_at_evaluation(tmp_path, trained_run, caplog):
    """A type the model never learned is scored as always missed, with a warning naming it."""
    data = tmp_path / "new.conll"
    data.write_text("Anna I-PER\n\nBerlin I-CITY\n")
    result = invoke("evaluate", trained_run, "--data", data)
    assert result.exit_code == 0, result.output
    assert f"{data}: entity types not seen in training (always wrong): CITY" in caplog.text
    scores = json.loads((trained_run / "report-data-new.conll.json").read_text())["scores"]
    assert scores["CITY"]["recall"] == 0.0 and scores["CITY"]["support"] == 1


def test_corrupt_and_foreign_checkpoints(tmp_path, trained_run):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((trained_run / "best.pt").read_bytes()[:1000])
    one_line_error(invoke("evaluate", corrupt), "corrupt.pt: not a readable checkpoint")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    one_line_error(invoke("evaluate", foreign), "foreign.pt: not a birnn-tag checkpoint")
    one_line_error(invoke("predict", tmp_path / "missing", "-"), "checkpoint not found")


def test_predict_jsonl_spans_with_offsets(tmp_path, trained_run):
    text = tmp_path / "in.txt"
    text.write_text("Anna Berg visited Oslo.\n\nTom flew to Paris.\n")
    out = tmp_path / "out.jsonl"
    result = invoke("predict", trained_run, text, "-o", out, "--format", "jsonl", "--device", "cpu")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and records[1]["tokens"] == []  # blank line kept: output aligns with input
    first = records[0]
    assert first["tokens"] == ["Anna", "Berg", "visited", "Oslo", "."]
    assert first["tags"] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert [(s["type"], s["text"], s["start"], s["end"]) for s in first["spans"]] == [
        ("PER", "Anna Berg", 0, 9), ("LOC", "Oslo", 18, 22)]
    assert all(0 < s["confidence"] <= 1 for s in first["spans"])
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_predict_stdin_to_stdout_conll(trained_run):
    result = invoke("predict", trained_run, "-", "--pretokenized", "--device", "cpu", input="Tom flew to Paris .\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:4] == ["Tom\tB-PER", "flew\tO", "to\tO", "Paris\tB-LOC"]


def test_conll_output_skips_confidences_but_not_tags(tmp_path, trained_run):
    text = tmp_path / "in.txt"
    text.write_text("Anna Berg visited Oslo .\nTom flew to Paris .\n")
    columns = invoke("predict", trained_run, text, "--pretokenized", "--device", "cpu")
    records = invoke("predict", trained_run, text, "--pretokenized", "--device", "cpu", "--format", "jsonl")
    assert columns.exit_code == 0 and records.exit_code == 0, columns.output + records.output
    conll_tags = [line.split("\t")[1] for line in columns.stdout.splitlines() if line]
    jsonl_tags = [tag for line in records.stdout.splitlines() for tag in json.loads(line)["tags"]]
    assert conll_tags == jsonl_tags and len(conll_tags) == 10


@needs_native_bf16
def test_bf16_precision_tags_like_fp32(tmp_path, trained_run):
    text = tmp_path / "in.txt"
    text.write_text("Anna Berg visited Oslo .\nTom flew to Paris .\n")
    fp32 = invoke("predict", trained_run, text, "--pretokenized", "--device", "cpu", "--precision", "fp32")
    bf16 = invoke("predict", trained_run, text, "--pretokenized", "--device", "cpu", "--precision", "bf16")
    assert fp32.exit_code == 0 and bf16.exit_code == 0, fp32.output + bf16.output
    assert bf16.stdout == fp32.stdout and "Tom\tB-PER" in bf16.stdout
    result = invoke("evaluate", trained_run, "--split", "validation", "--device", "cpu", "--precision", "bf16")
    assert result.exit_code == 0 and "micro avg" in result.output, result.output
    refused_choice(invoke("predict", trained_run, text, "--precision", "fp16"), "--precision", "fp16", "'fp32', 'bf16', 'auto'")


def test_bf16_on_a_cpu_without_native_bf16_is_one_line_naming_auto_and_fp32(tmp_path, trained_run, monkeypatch):
    monkeypatch.setattr(precision, "has_native_bf16", lambda device: False)
    text = tmp_path / "in.txt"
    text.write_text("Tom flew to Paris .\n")
    for command in (("predict", trained_run, text, "--pretokenized"), ("evaluate", trained_run)):
        result = invoke(*command, "--device", "cpu", "--precision", "bf16")
        one_line_error(result, "precision: bf16 needs a CPU that multiplies bfloat16 natively")
        assert "use auto (bf16 where native, else fp32) or fp32" in result.output.replace("\n", "")
    assert invoke("predict", trained_run, text, "--pretokenized", "--device", "cpu", "--precision", "auto").exit_code == 0
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    config["training"]["eval_precision"] = "bf16"
    config["output"]["dir"] = str(tmp_path / "bf16-run")
    (tmp_path / "bf16.yaml").write_text(yaml.safe_dump(config))
    one_line_error(invoke("train", tmp_path / "bf16.yaml"), "training.eval_precision: bf16 needs a CPU")
    assert not (tmp_path / "bf16-run" / "metrics.jsonl").exists()


def test_predict_starts_without_importing_data_loading_or_scoring_libraries(tmp_path, trained_run):
    # datasets (0.6 s) and seqeval with scikit-learn (0.9 s) were half of predict's start-up.
    text = tmp_path / "in.txt"
    text.write_text("Tom flew to Paris .\n")
    code = (
        "import sys\nfrom birnn_tag.cli.app import app\n"
        f"sys.argv = ['birnn-tag', 'predict', {str(trained_run)!r}, {str(text)!r}, '--pretokenized', '--device', 'cpu']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('datasets', 'seqeval', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Tom\tB-PER" and done.stdout.splitlines()[-1] == "[]", done.stdout


def test_predict_conll_input_and_long_sentences(tmp_path, trained_run):
    data = tmp_path / "in.conll"
    tokens = ["Tom", "flew", "to", "Paris", "."] * 80  # 400 tokens > data.max_length=250: tagged in pieces
    data.write_text("".join(f"{t} X\n" for t in tokens) + "\nAnna X\n")
    result = invoke("predict", trained_run, data, "--input-format", "conll", "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line]
    assert len(rows) == 401 and rows[250] == "Tom\tB-PER"


def test_predict_bad_input_keeps_partial_output(tmp_path, trained_run):
    text = tmp_path / "in.txt"
    text.write_bytes(b"Tom flew .\n" * 5000 + b"bad \xff byte\n")
    out = tmp_path / "out.conll"
    out.write_text("old results\n")
    result = invoke("predict", trained_run, text, "-o", out, "--device", "cpu")
    one_line_error(result, "in.txt:5001: not valid UTF-8")
    assert out.read_text() == "old results\n"
    assert (tmp_path / "out.conll.partial").read_text().count("Tom\t") == 4096  # first chunk was written
    refused_choice(invoke("predict", trained_run, text, "--format", "xml"), "--format", "xml", "'conll', 'jsonl', 'text', 'label-studio', 'doccano'")


def test_help_lists_each_options_choices_and_offers_shell_completion(trained_run, tmp_path):
    text = runner.invoke(app, ["predict", "--help"], env={"COLUMNS": "300"}).output  # no wrapping
    for choices in ("<conll|jsonl|text|label-studio|doccano|parquet>", "<auto|text|pretokenized|conll|conllu|jsonl|documents|parquet>", "<auto|cpu|cuda>", "<fp32|bf16|auto>"):
        assert choices in text, text
    assert "--install-completion" in invoke("--help").output
    source = tmp_path / "in.txt"
    source.write_text("Tom flew .\n")
    # A value of the other task's choices is refused before anything is written.
    one_line_error(invoke("predict", trained_run, source, "--format", "text", "-o", tmp_path / "out"),
                   "--format: 'text' does not apply to tagging models; expected one of conll, jsonl")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_an_extension_naming_a_format_the_model_does_not_read_is_refused(tmp_path, trained_run):
    records = tmp_path / "in.jsonl"
    records.write_text('{"text": "Tom flew to Paris ."}\n')
    # Read as text, its braces and keys would be tagged as words.
    one_line_error(invoke("predict", trained_run, records, "-o", tmp_path / "out"),
                   "in.jsonl: its extension says jsonl, which tagging models do not read; pass --input-format, one of text")
    assert not (tmp_path / "out").exists()
    result = invoke("predict", trained_run, records, "--input-format", "documents", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:5] == ["Tom\tB-PER", "flew\tO", "to\tO", "Paris\tB-LOC", ".\tO"]


def test_messages_keep_their_square_brackets(tmp_path, trained_run):
    missing = tmp_path / "notes[plots].txt"
    one_line_error(invoke("predict", trained_run, missing), f"{missing}: input file not found")


def test_training_view_prints_warnings_with_square_brackets_as_written():
    from rich.console import Console

    from birnn_tag.cli.view import TrainingView
    from birnn_tag.training.events import Message

    console = Console(record=True, markup=False, width=200)
    with TrainingView(console, progress=False) as view:
        view.show(Message("curves need matplotlib: pip install 'birnn-tag[plots]'", level="warning"))
    assert "warning: curves need matplotlib: pip install 'birnn-tag[plots]'" in console.export_text()
