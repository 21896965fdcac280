"""Sharing on the Hugging Face Hub without a network: ``push --stage`` writes the folder a push
uploads (safetensors, no pickles, a card the Hub's own parser reads), that folder tags exactly as
the run, ``hf://`` names resolve from a populated Hub cache with ``HF_HUB_OFFLINE=1``, and the
upload makes the calls it should (HfApi mocked). Real transfers with huggingface.co are not
exercised here."""

import json
import shutil
import sys
from pathlib import Path
from typing import ClassVar

import huggingface_hub
import pytest
import torch
from huggingface_hub import ModelCard
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.errors import BirnnTagError
from birnn_tag.hub.names import HubName, parse_hub_name
from birnn_tag.runs.checkpoint import read_checkpoint
from birnn_tag.runs.safetensors_checkpoint import save_safetensors_checkpoint

from conftest import FIXTURES, tiny_config_dict

TEXTS = ["Peter Blackburn lives in Paris .", "EU rejects German call to boycott British lamb .", "Anna Berg visited Oslo."]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny CRF tagger (a few epochs: only its outputs' equality matters) with its reports."""
    from birnn_tag.config import config_from_dict
    from birnn_tag.training.loop import train

    folder = tmp_path_factory.mktemp("hub")
    shutil.copy(FIXTURES / "tiny.conll", folder / "tiny.conll")
    config = tiny_config_dict(folder / "tiny.conll", folder / "run", epochs=3)
    config["model"]["head"] = "crf"
    return train(config_from_dict(config))


@pytest.fixture(scope="module")
def staged(run, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("staged") / "tiny-ner"
    pushed = birnn_tag.push(run, "org/tiny-ner", stage=folder)
    assert pushed == birnn_tag.Pushed("org/tiny-ner", folder)  # nothing uploaded: no url, commit or revision
    return folder


def outputs(model):
    return [(p.tokens, p.tags, p.confidences) for p in model.tag(TEXTS)]


def test_staged_folder_tags_exactly_as_the_run(run, staged):
    assert not list(staged.rglob("*.pt")), "no pickles"
    assert {"model.safetensors", "model.json", "config.yaml", "vocab.json", "report-test.json", "README.md"} <= {
        path.name for path in staged.iterdir()
    }
    original, shared = read_checkpoint(run), read_checkpoint(staged)
    assert shared.keys() == original.keys() and shared["config"] == original["config"]
    assert all(torch.equal(shared["model"][name], tensor) for name, tensor in original["model"].items())
    assert outputs(birnn_tag.load(staged, device="cpu")) == outputs(birnn_tag.load(run, device="cpu"))  # bit for bit


def test_card_metadata_for_the_hub(run, staged):
    card = ModelCard.load(staged / "README.md")
    assert (card.data.library_name, card.data.pipeline_tag) == ("birnn-tag", "token-classification")
    assert {"birnn-tag", "lstm", "crf"} <= set(card.data.tags)
    f1 = {result.dataset_split: result for result in card.data.eval_results if result.metric_type == "f1"}
    for split in ("validation", "test"):
        report = json.loads((run / f"report-{split}.json").read_text())
        assert f1[split].metric_value == report["score"]
        assert (f1[split].task_type, f1[split].dataset_name) == ("token-classification", "tiny")
    assert 'birnn_tag.load("hf://org/tiny-ner")' in card.text


@pytest.mark.parametrize(("text", "expected"), [
    ("hf://org/name", HubName("org/name")),
    ("hf:/org/name", HubName("org/name")),  # as a Path argument spells it
    ("hf://org/name@v1.0", HubName("org/name", "v1.0")),
    (f"hf://org/name@{COMMIT}/onnx", HubName("org/name", COMMIT, "onnx")),
    ("hf://org/name@refs/pr/3", HubName("org/name", "refs/pr/3")),
])
def test_hub_names(text, expected):
    assert parse_hub_name(text) == expected


@pytest.mark.parametrize("text", ["hf://", "hf://name", "hf://org/na me", "hf://org/name@", "hf://org/a--b", "hf://datasets/org/name"])
def test_bad_hub_names_are_refused_in_one_line(text):
    with pytest.raises(BirnnTagError, match="expected hf://ORG/NAME") as error:
        birnn_tag.load(text)
    assert "\n" not in str(error.value) and str(error.value).startswith("hf://")


@pytest.fixture
def offline_cache(staged, tmp_path, monkeypatch) -> Path:
    """A Hub cache holding ``org/tiny-ner`` at :data:`COMMIT` (main points there), laid out as
    huggingface_hub lays it out, and offline mode on (the environment and the constants
    huggingface_hub read from it on import)."""
    cache = tmp_path / "hub"
    repository = cache / "models--org--tiny-ner"
    shutil.copytree(staged, repository / "snapshots" / COMMIT)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(COMMIT)
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_CACHE", str(cache))):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_hf_names_load_from_the_cache_offline(run, offline_cache):
    expected = outputs(birnn_tag.load(run, device="cpu"))
    for name in ("hf://org/tiny-ner", f"hf://org/tiny-ner@{COMMIT}"):
        assert outputs(birnn_tag.load(name, device="cpu")) == expected
    for name, why in (("hf://org/absent", "HF_HUB_OFFLINE=1"), ("hf://org/tiny-ner@v2", "HF_HUB_OFFLINE=1"),
                      ("hf://org/tiny-ner/onnx", "no folder 'onnx'")):
        with pytest.raises(BirnnTagError, match=why) as error:
            birnn_tag.load(name)
        assert str(error.value).startswith(name) and "\n" not in str(error.value)


def test_cli_reads_hf_names_and_refuses_to_calibrate_them(run, offline_cache, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    local = runner.invoke(app, ["predict", str(run), str(source), "--format", "jsonl", "--device", "cpu"])
    shared = runner.invoke(app, ["predict", "hf://org/tiny-ner", str(source), "--format", "jsonl", "--device", "cpu"])
    assert shared.exit_code == 0, shared.output
    assert shared.stdout == local.stdout
    refused = runner.invoke(app, ["calibrate", "hf://org/tiny-ner"])
    assert refused.exit_code == 1 and "calibrate the run it was pushed from" in refused.output


def test_cli_push_stage_round_trip(run, tmp_path):
    folder = tmp_path / "staged"
    result = runner.invoke(app, ["push", str(run), "org/tiny-ner", "--stage", str(folder)])
    assert result.exit_code == 0, result.output
    assert "nothing uploaded" in result.stderr
    assert outputs(birnn_tag.load(folder, device="cpu")) == outputs(birnn_tag.load(run, device="cpu"))
    again = runner.invoke(app, ["push", str(run), "org/tiny-ner", "--stage", str(folder)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    last = runner.invoke(app, ["push", str(run / "last.pt"), "org/tiny-ner", "--stage", str(tmp_path / "last")])  # its optimizer stays home
    assert last.exit_code == 0, last.output
    assert outputs(birnn_tag.load(tmp_path / "last", device="cpu")) == outputs(birnn_tag.load(run / "last.pt", device="cpu"))
    bad = runner.invoke(app, ["push", str(run), "not a repo", "--stage", str(tmp_path / "other")])
    assert bad.exit_code == 1 and "not a repository id" in bad.stderr and not (tmp_path / "other").exists()


class FakeHfApi:
    """Records what a push asks of the Hub, and what the folder holds when it is uploaded."""

    calls: ClassVar[list] = []

    def __init__(self, **options):
        self.calls.append(("HfApi", options.get("token")))

    def create_repo(self, repo_id, **options):
        self.calls.append(("create_repo", repo_id, options))
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, repo_id, **options):
        self.calls.append(("create_branch", repo_id, options))

    def upload_folder(self, **options):
        folder = Path(options.pop("folder_path"))
        self.calls.append(("upload_folder", sorted(path.name for path in folder.iterdir()), options))
        return huggingface_hub.CommitInfo(commit_url=f"https://huggingface.co/org/tiny-ner/commit/{COMMIT}", commit_message="",
                                          commit_description="", oid=COMMIT)


def test_push_creates_the_repository_and_uploads_the_folder(run, monkeypatch):
    FakeHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    pushed = birnn_tag.push(run, "org/tiny-ner", revision="v1", private=True)
    assert pushed == birnn_tag.Pushed("org/tiny-ner", None, "https://huggingface.co/org/tiny-ner", COMMIT, "v1")
    assert [call[0] for call in FakeHfApi.calls] == ["HfApi", "create_repo", "create_branch", "upload_folder"]
    assert FakeHfApi.calls[1][1:] == ("org/tiny-ner", {"private": True, "exist_ok": True})
    assert FakeHfApi.calls[2][1:] == ("org/tiny-ner", {"branch": "v1", "exist_ok": True})
    _, files, upload = FakeHfApi.calls[3]
    assert upload["repo_id"] == "org/tiny-ner" and upload["revision"] == "v1" and upload["delete_patterns"] == "*"
    assert {"README.md", "model.safetensors", "model.json", "config.yaml", "vocab.json"} <= set(files)


def test_a_failed_upload_is_one_line_naming_the_repository(run, monkeypatch):
    class Refusing(FakeHfApi):
        def create_repo(self, repo_id, **options):
            raise OSError("connection refused\nretry later")

    monkeypatch.setattr(huggingface_hub, "HfApi", Refusing)
    with pytest.raises(BirnnTagError, match=r"^org/tiny-ner: the upload to the Hugging Face Hub failed: connection refused$"):
        birnn_tag.push(run, "org/tiny-ner")


def test_tied_weights_are_stored_and_read_back(tmp_path):
    shared = torch.arange(6.0).reshape(2, 3)
    payload = {"format": "birnn-tag", "format_version": 2, "config": {}, "vocab": {"words": [], "chars": [], "labels": []},
               "model": {"embedding.weight": shared, "output.weight": shared, "half": torch.ones(2, dtype=torch.bfloat16)}}
    save_safetensors_checkpoint(payload, tmp_path / "model.safetensors")
    read = read_checkpoint(tmp_path)
    assert read["model"].keys() == payload["model"].keys()
    assert all(torch.equal(read["model"][name], tensor) and read["model"][name].dtype == tensor.dtype
               for name, tensor in payload["model"].items())
    with pytest.raises(BirnnTagError, match=r"model\.safetensors: key 'state' holds values JSON cannot store"):
        save_safetensors_checkpoint(payload | {"state": {"rng": torch.zeros(1)}}, tmp_path / "model.safetensors")


def test_missing_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(BirnnTagError, match=r"pip install 'birnn-tag\[hub\]'"):
        birnn_tag.load("hf://org/tiny-ner")
