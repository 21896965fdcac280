"""Sentences longer than ``data.max_length``: cut between entities where possible, every piece
valid in the training scheme, and scored as the sentence the user wrote."""

import dataclasses
import json

import pytest
import torch

import birnn_tag

from birnn_tag.config import DataConfig, config_from_dict
from birnn_tag.data.reading.sources import load_corpus
from birnn_tag.errors import DataError
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.data import schemes
from birnn_tag.tagging.prediction.streaming import InputSentence, tag_sentences
from birnn_tag.tagging.scoring.evaluation import evaluate_checkpoint
from birnn_tag.training.loop import train

from conftest import task_splits, tiny_config_dict, training_pieces

# IOB2 as written; with data.max_length: 4 each sentence is cut, and a cut at token 4 would
# split NEW YORK CITY, BANK ... MELLON and nothing in the third sentence.
SENTENCES = [
    [("Anna", "B-PER"), ("Berg", "I-PER"), ("met", "O"), ("New", "B-LOC"), ("York", "I-LOC"), ("City", "I-LOC"), ("today", "O")],
    [("Bank", "B-ORG"), ("of", "I-ORG"), ("New", "I-ORG"), ("York", "I-ORG"), ("Mellon", "I-ORG"), ("rose", "O")],
    [("Tom", "B-PER"), ("flew", "O"), ("to", "O"), ("Paris", "B-LOC"), ("and", "O"), ("Oslo", "B-LOC"), (".", "O")],
]
ENTITIES = {"PER": 2, "LOC": 3, "ORG": 1}


@pytest.fixture
def long_conll(tmp_path):
    path = tmp_path / "long.conll"
    path.write_text("\n".join("".join(f"{t} {g}\n" for t, g in s) for s in SENTENCES), encoding="utf-8")
    return path


@pytest.mark.parametrize("scheme", ["IOB2", "BIOES"])
def test_pieces_are_cut_at_an_o_and_valid_in_the_scheme(long_conll, scheme):
    config = DataConfig(train=str(long_conll), max_length=4, scheme=scheme)
    pieces = training_pieces(load_corpus(config), config)
    assert pieces["tokens"][:2] == [["Anna", "Berg", "met"], ["New", "York", "City", "today"]]
    # BANK ... MELLON is longer than a piece: it is cut, and each part is an entity of its own.
    assert pieces["tokens"][2:4] == [["Bank", "of", "New", "York"], ["Mellon", "rose"]]
    assert pieces["tokens"][4:] == [["Tom", "flew", "to", "Paris"], ["and", "Oslo", "."]]
    for tags in pieces["tags"]:
        assert len(tags) <= 4
        assert schemes.first_invalid(tags, scheme) is None, tags
    assert pieces["tags"][3] == (["B-ORG", "O"] if scheme == "IOB2" else ["S-ORG", "O"])
    assert pieces["where"][1] == f"{long_conll}:1"


def test_long_sentences_error_still_refuses(long_conll):
    config = DataConfig(train=str(long_conll), max_length=4, long_sentences="error")
    with pytest.raises(DataError, match=r"long.conll:1: sentence of 7 tokens is longer than data.max_length=4"):
        training_pieces(load_corpus(config), config)


@pytest.mark.parametrize("scheme", ["IOB2", "BIOES"])
def test_split_gold_is_each_whole_sentence_in_the_training_scheme(tmp_path, long_conll, scheme):
    raw = tiny_config_dict(long_conll, tmp_path / "run")
    raw["data"] |= {"max_length": 4, "scheme": scheme}
    _, splits = task_splits(config_from_dict(raw))
    written = [[tag for _, tag in sentence] for sentence in SENTENCES]
    for name in ("train", "test"):
        assert splits[name].tags == [schemes.convert(tags, "IOB2", scheme) for tags in written]
    # The model sees pieces of at most 4 tokens, which together cover each sentence: training
    # pieces are cut between entities; data to score is cut as predict cuts it (no help from
    # gold tags), in windows that overlap by half.
    assert splits["train"].bounds == [[(0, 3), (3, 7)], [(0, 4), (4, 6)], [(0, 4), (4, 7)]]
    assert splits["test"].bounds == [[(0, 4), (2, 6), (3, 7)], [(0, 4), (2, 6)], [(0, 4), (2, 6), (3, 7)]]
    assert [len(piece) for piece in splits["train"].sentences] == [3, 4, 4, 2, 4, 3]
    assert [len(piece) for piece in splits["test"].sentences] == [4] * 8


def test_training_on_cut_entities_fits_and_scores_the_entities_as_written(tmp_path, long_conll):
    raw = tiny_config_dict(long_conll, tmp_path / "run", epochs=30)
    raw["data"] |= {"max_length": 4, "scheme": "BIOES"}
    raw["model"]["head"] = "crf"
    run = train(config_from_dict(raw))
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1]["train_loss"] < 5  # a forbidden gold move alone costs 1e4
    scores = json.loads((run / "report.json").read_text())["scores"]
    assert {kind: scores[kind]["support"] for kind in ENTITIES} == ENTITIES
    assert scores["micro avg"]["support"] == sum(ENTITIES.values())
    # PER is never cut through, so the fitted model finds it.
    assert scores["PER"]["f1-score"] == 1.0
    report = evaluate_checkpoint(load_model(run), device=torch.device("cpu"))
    assert report.scores["micro avg"]["support"] == sum(ENTITIES.values())


def test_entities_across_a_cut_are_tagged_whole_in_overlapping_windows(tmp_path):
    # Six tokens at max_length 4: a cut after four tokens would split every entity, which fixed
    # pieces tagged at F1 0; overlapping windows see each entity whole.
    sentences = [
        [("Tom", "O"), ("said", "O"), ("that", "O"), ("New", "B-LOC"), ("York", "I-LOC"), ("won", "O")],
        [("We", "O"), ("saw", "O"), ("the", "O"), ("Red", "B-ORG"), ("Sox", "I-ORG"), ("lose", "O")],
        [("He", "O"), ("met", "O"), ("with", "O"), ("Anna", "B-PER"), ("Berg", "I-PER"), ("today", "O")],
    ]
    path = tmp_path / "cross.conll"
    path.write_text("\n".join("".join(f"{t} {g}\n" for t, g in s) for s in sentences), encoding="utf-8")
    raw = tiny_config_dict(path, tmp_path / "run", epochs=30)
    raw["data"] |= {"max_length": 4}
    raw["model"]["head"] = "crf"
    run = train(config_from_dict(raw))
    assert json.loads((run / "report.json").read_text())["scores"]["micro avg"]["f1-score"] >= 0.9
    tagger = birnn_tag.load(run, device="cpu")
    predicted = tagger.tag_tokens([[token for token, _ in sentence] for sentence in sentences])
    assert [p.tags for p in predicted] == [[tag for _, tag in sentence] for sentence in sentences]
    # A sentence that fits is tagged as before: its windows are itself.
    assert tagger.tag_tokens([["New", "York", "won"]])[0].tokens == ["New", "York", "won"]


def test_joined_windows_tag_as_the_whole_sentence_at_once(trained_run):
    # A run trained on whole sentences, made to tag in windows of 4 tokens (9-token sentences):
    # each token is read with context on both sides, so the joined tags, valid in the scheme,
    # are nearly all the whole sentence's (the tiny run reads "Berg" better in the window).
    tagger = birnn_tag.load(trained_run, device="cpu")
    sentences = [["Anna", "Berg", "visited", "Oslo", ".", "Acme", "hired", "Tom", "."],
                 ["Acme", "hired", "Tom", ".", "Anna", "Berg", "visited", "Oslo", "."]]
    inputs = [InputSentence.from_tokens(tokens) for tokens in sentences]
    at_once = list(tag_sentences(tagger.config, tagger.vocabs, tagger.decoder(64), inputs))
    short = dataclasses.replace(tagger.config, data=dataclasses.replace(tagger.config.data, max_length=4))
    windowed = list(tag_sentences(short, tagger.vocabs, tagger.decoder(64), inputs))
    pairs = [(a, b) for whole, joined in zip(at_once, windowed) for a, b in zip(whole.tags, joined.tags)]
    assert sum(a == b for a, b in pairs) >= len(pairs) - 1
    assert all(schemes.first_invalid(p.tags, "IOB2") is None for p in windowed)
    assert windowed[0].tags == at_once[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "B-PER", "O"]
