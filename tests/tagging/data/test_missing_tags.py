"""Partly labelled training data: tokens tagged ``data.missing_tag`` are trained on without a
label (the CRF marginalises over their tags, the softmax head leaves them out)."""

from __future__ import annotations

import json

import pytest
import torch

import birnn_tag
from birnn_tag.config import config_from_dict
from birnn_tag.errors import DataError
from conftest import FIXTURES, task_splits, tiny_config_dict


@pytest.fixture
def partial(tmp_path):
    """The tiny fixture (IOB1) with Oslo's and Tom's tags marked missing."""
    lines = []
    for line in (FIXTURES / "tiny.conll").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in ("Oslo", "Tom"):
            fields[-1] = "-"
        lines.append(" ".join(fields))
    path = tmp_path / "partial.conll"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_missing_tags_train_without_a_label(tmp_path, partial, head):
    raw = tiny_config_dict(partial, tmp_path / head, epochs=3)
    raw["data"] |= {"missing_tag": "-", "validation": str(FIXTURES / "tiny.conll"), "test": str(FIXTURES / "tiny.conll")}
    raw["model"]["head"] = head
    vocabs, splits = task_splits(config_from_dict(raw))
    assert "-" not in vocabs.labels.items and "B-LOC" in vocabs.labels.items
    tag_ids = [tag for sentence in splits["train"].sentences for tag in sentence.tags.tolist()]
    assert tag_ids.count(-1) == sum(line.split()[-1:] == ["-"] for line in partial.read_text().splitlines())
    run = birnn_tag.train(config_from_dict(raw))
    losses = [json.loads(line)["train_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_missing_tags_in_a_split_to_score_are_refused(tmp_path, partial):
    raw = tiny_config_dict(FIXTURES / "tiny.conll", tmp_path / "run")
    raw["data"] |= {"missing_tag": "-", "test": str(partial)}
    with pytest.raises(DataError, match=r"partial.conll:\d+: tag '-' \(data.missing_tag\) is for the training split only"):
        task_splits(config_from_dict(raw))
