"""The public Python API as a user meets it: load → tag / fill, streaming, train with progress
events; and the README's examples, which must run as written."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.errors import BirnnTagError
from birnn_tag.training.events import EpochDone, Message, ReportDone, StepsDone

from conftest import SENTENCES, tiny_config_dict

README = Path(__file__).parent.parent / "README.md"
API_PAGE = README.parent / "docs" / "python-api.md"
TEXTS = ["Anna Berg visited Oslo.", "", "Tom flew to Paris  and   Oslo .", "Acme hired Tom, didn't it?"]


def test_api_results_equal_predict_jsonl(tmp_path, trained_run):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    result = CliRunner().invoke(app, ["predict", str(trained_run), str(source), "--format", "jsonl", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    predictions = birnn_tag.load(trained_run, device="cpu").tag(TEXTS)
    assert len(records) == len(predictions) == len(TEXTS)
    for record, prediction in zip(records, predictions):
        assert (prediction.text, prediction.tokens, prediction.tags) == (record["text"], record["tokens"], record["tags"])
        assert prediction.confidences == pytest.approx(record["confidences"], abs=1e-4)
        assert [span.to_dict() for span in prediction.spans] == record["spans"]
    assert any(record["spans"] for record in records)


def test_tokens_streams_and_results_are_frozen(trained_run):
    tagger = birnn_tag.load(trained_run, device="cpu")
    assert isinstance(tagger, birnn_tag.TaggingModel) and str(tagger.device) == "cpu"
    (by_text,) = tagger.tag(["Tom flew to Paris ."])
    (by_tokens,) = tagger.tag_tokens([["Tom", "flew", "to", "Paris", "."]])
    assert by_tokens == by_text and by_text.tags[0] == "B-PER"
    assert [(s.type, s.text, s.token_start, s.token_end) for s in by_text.spans] == [("PER", "Tom", 0, 1), ("LOC", "Paris", 3, 4)]
    lines = iter(["Tom flew to Paris ."] * 5000)  # a generator is read lazily, a chunk at a time
    stream = tagger.tag_stream(lines, batch_size=64)
    assert next(stream) == by_text and len(list(lines)) < 5000
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_text.tags = []
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_text.spans[0].type = "ORG"
    report = tagger.evaluate("validation")
    saved = json.loads((trained_run / "report-validation.json").read_text())
    assert report.f1 == pytest.approx(saved["scores"]["micro avg"]["f1-score"])
    data = trained_run.parent / "tiny.conll"  # the run's validation file, given as a file
    assert tagger.evaluate(data).f1 == report.f1


def test_a_models_later_calls_tag_as_a_fresh_models_first(trained_run):
    # A loaded model keeps its token cache from call to call (bounded: emptied when full).
    texts = ["Tom flew to Paris .", "tom FLEW to paris 1996 !", "Zyx Qwv of Tom ."]
    expected = [birnn_tag.load(trained_run).tag([text])[0] for text in texts]
    tagger = birnn_tag.load(trained_run)
    tagger.encoder.cache_size = 4  # fills and empties within these calls
    assert tagger.tag(texts) == expected
    assert [tagger.tag([text])[0] for text in reversed(texts)] == expected[::-1]


def test_fill_with_choices_equals_predict(cloze_run):
    filler = birnn_tag.load(cloze_run / "run", device="cpu")
    assert isinstance(filler, birnn_tag.ClozeModel)
    line = "joe likes ___ , especially fried , scrambled or poached ."
    (answer,) = filler.fill([line], choices=["ideas", "cars", "eggs", "zebra"])
    ranked = answer.blanks[0].candidates
    assert ranked[0].word == "eggs" and ranked[0].prob > ranked[1].prob >= ranked[2].prob > 0
    assert ranked[-1] == birnn_tag.Candidate("zebra", None, in_vocabulary=False)
    result = CliRunner().invoke(app, ["predict", str(cloze_run / "run"), "-", "--choices", "ideas,cars,eggs,zebra"], input=line + "\n")
    record = json.loads(result.stdout)
    assert [(c.word, c.prob) for c in ranked] == [(c["word"], c["prob"]) for c in record["blanks"][0]["candidates"]]
    (top,) = filler.fill([line], top_k=3)
    assert top.filled() == SENTENCES[0] and len(top.blanks[0].candidates) == 3
    (unusable,) = filler.fill(["no blank here"])
    assert unusable.error and unusable.blanks == []


def test_load_errors_are_birnn_tag_errors(tmp_path, trained_run, cloze_run):
    with pytest.raises(BirnnTagError, match="checkpoint not found"):
        birnn_tag.load(tmp_path / "missing")
    with pytest.raises(BirnnTagError, match="precision: unknown value 'fp16'; expected one of fp32, bf16, auto"):
        birnn_tag.load(trained_run, device="cpu", precision="fp16")
    with pytest.raises(BirnnTagError, match="applies to tagging models; this is a cloze model"):
        birnn_tag.load(cloze_run / "run", device="cpu", precision="bf16")
    with pytest.raises(BirnnTagError, match="unknown device 'gpu'"):
        birnn_tag.load(cloze_run / "run", device="gpu")


def test_train_reports_progress_through_events_and_prints_nothing(tmp_path, tiny_conll, capfd):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_conll, tmp_path / "unused")))
    events = []
    run = birnn_tag.train(config, ["training.epochs=2", "training.progress=true", f"output.dir={tmp_path / 'run'}"],
                          on_event=events.append)
    assert run == tmp_path / "run" and (run / "best.pt").is_file()
    assert capfd.readouterr() == ("", "")
    assert [e.record["epoch"] for e in events if isinstance(e, EpochDone)] == [1, 2]
    assert any(isinstance(e, StepsDone) for e in events) and isinstance(events[0], Message)
    assert [e.split for e in events if isinstance(e, ReportDone)] == ["validation", "test"]


def test_readme_python_examples_run(tmp_path, trained_run, cloze_run, monkeypatch, capsys):
    readme = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
    (readme_block,) = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    page = re.findall(r"```python\n(.*?)```", API_PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(page) >= 3
    # Both train into runs/api-demo: the page's blocks run in a second, fresh folder.
    for blocks, folder in (([readme_block], tmp_path / "readme"), (page, tmp_path / "page")):
        run_examples(blocks, folder, trained_run, cloze_run, monkeypatch, capsys)


def run_examples(blocks, tmp_path, trained_run, cloze_run, monkeypatch, capsys):
    shutil.copytree(trained_run, tmp_path / "runs" / "sample")
    shutil.copytree(cloze_run / "run", tmp_path / "runs" / "sample-cloze")
    for name in ("configs", "data"):
        (tmp_path / name).symlink_to(README.parent / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert "PER" in capsys.readouterr().out
    assert (tmp_path / "runs" / "api-demo" / "best.pt").is_file()
