"""The ONNX export's model card names the run's recurrent cell."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from birnn_tag.config import config_from_dict
from birnn_tag.tagging.onnx.export import model_card


@pytest.mark.parametrize("cell,name", [("lstm", "BiLSTM"), ("gru", "BiGRU"), ("rnn", "BiRNN")])
def test_the_model_card_names_the_cell(cell, name):
    config = config_from_dict({"model": {"cell": cell, "num_layers": 2}, "data": {"train": "train.conll"}})
    loaded = SimpleNamespace(config=config, path=Path("runs/x/best.pt"))
    card = model_card(loaded, {"metrics": {}, "birnn_tag_version": "0", "labels": ["O"]})
    assert f"A 2-layer {name} (200 units per direction) with a softmax head" in card
