"""Distillation (``training.teacher``): a trained run's marginals are soft targets for a new run,
on its training sentences and on unlabelled text the teacher labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import birnn_tag
from birnn_tag.config import config_from_dict
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.distillation import teacher_marginals
from birnn_tag.training.loop import train

from conftest import FIXTURES, tiny_config_dict

# Unlabelled text: the fixture's words in new sentences, a document per line.
TEXT = ["Tom visited Paris . Acme hired Anna Berg .", "The German firm grew and Oslo visited Tom ."]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("teacher")
    data = folder / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    raw = tiny_config_dict(data, folder / "run", epochs=30)
    raw["model"]["head"] = "crf"
    return train(config_from_dict(raw))


def student_config(teacher: Path, folder: Path, data: Path, **training) -> dict:
    raw = tiny_config_dict(data, folder / "student", epochs=30, teacher=str(teacher), **training)
    raw["model"].update(head="crf", hidden_size=12)
    return raw


def test_a_student_learns_the_teachers_marginals_on_unlabelled_text(teacher, tmp_path):
    text = tmp_path / "unlabelled.txt"
    text.write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    data = tmp_path / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    raw = student_config(teacher, tmp_path, data, teacher_weight=1.0, teacher_text=[str(text)])
    student = train(config_from_dict(raw))
    raw["training"].update(teacher=None, teacher_text=[])
    raw["output"]["dir"] = str(tmp_path / "alone")
    alone = train(config_from_dict(raw))
    sentences = [sentence.tokens for line in TEXT for sentence in birnn_tag.load(teacher).document(line).sentences()]
    pieces = [(row, 0, len(tokens)) for row, tokens in enumerate(sentences)]
    labels = load_model(teacher).vocabs.labels.items

    def marginals(run: Path) -> torch.Tensor:
        return torch.cat(teacher_marginals(load_model(run), sentences, None, pieces, labels))

    target = marginals(teacher)  # at the teacher's calibrated temperature, as the student was taught
    # last.pt: best.pt is the first epoch with a perfect dev score, before the text was learned
    distance = {run: (marginals(run / "last.pt") - target).abs().sum(dim=1).mean() / 2 for run in (student, alone)}
    assert distance[student] < 0.2 * distance[alone]  # total variation; measured 0.007 against 0.142
    assert birnn_tag.load(student).evaluate().score > 0.8  # the gold data is learned too


def test_a_teacher_the_student_cannot_follow_is_refused_in_one_line(teacher, tmp_path):
    without_misc = tmp_path / "no-misc.conll"
    lines = (FIXTURES / "tiny.conll").read_text(encoding="utf-8").splitlines()
    without_misc.write_text("\n".join(line.replace("I-MISC", "O") for line in lines) + "\n", encoding="utf-8")
    with pytest.raises(BirnnTagError, match=r"^training.teacher: .*labels this run's training data lacks: (I-MISC|B-MISC)"):
        train(config_from_dict(student_config(teacher, tmp_path, without_misc)))
    data = tmp_path / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    with pytest.raises(BirnnTagError, match="training.teacher_text: .*missing.txt: file not found"):
        train(config_from_dict(student_config(teacher, tmp_path, data, teacher_text=[str(tmp_path / "missing.txt")])))
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(BirnnTagError, match="^training.teacher_text: .*blank.txt: no sentences"):
        train(config_from_dict(student_config(teacher, tmp_path, data, teacher_text=[str(blank)])))
    with pytest.raises(BirnnTagError, match="^training.teacher: .*nowhere: checkpoint not found"):
        train(config_from_dict(student_config(tmp_path / "nowhere", tmp_path, data)))
    assert not (tmp_path / "student" / "best.pt").exists()
