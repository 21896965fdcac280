"""Streaming prediction's memory does not grow with its input: the kernels see a bounded set of
shapes (oneDNN keeps one cached kernel per shape), and one enormous line is tagged a group of
tokens at a time with the same tags as at once."""

import random

import pytest
import torch

import birnn_tag
from birnn_tag.data.batch_plans import MAX_BATCH_TOKENS, sorted_batches
from birnn_tag.tagging.prediction import streaming as prediction
from birnn_tag.tagging.prediction.streaming import InputSentence, tag_sentences


def random_sentences(count: int, seed: int) -> list[InputSentence]:
    """Sentences of 1-60 tokens drawn from a few words of 1-9 characters."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 9))) for _ in range(300)]
    return [InputSentence.from_tokens(rng.choices(words, k=rng.randint(1, 60))) for _ in range(count)]


def test_a_long_stream_runs_its_kernels_on_few_distinct_shapes(trained_run, monkeypatch):
    tagger = birnn_tag.load(trained_run, device="cpu")
    calls: dict[str, list] = {"lstm": [], "matmul": []}
    lstm, addmm = torch.lstm, torch.addmm

    def recording_lstm(inputs, *args):
        calls["lstm"].append(tuple(inputs.shape))
        return lstm(inputs, *args)

    def recording_addmm(bias, left, right, *args, **kwargs):
        calls["matmul"].append(tuple(left.shape))
        return addmm(bias, left, right, *args, **kwargs)

    monkeypatch.setattr(torch, "lstm", recording_lstm)
    monkeypatch.setattr(torch, "addmm", recording_addmm)
    # Small chunks: many chunk remainders and batch widths, as a long stream has.
    list(tag_sentences(tagger.config, tagger.vocabs, tagger.decoder(64), random_sentences(8000, seed=1), chunk_size=100))
    batches = len(calls["matmul"])  # the character CNN's one product per batch
    assert batches > 200
    for kind, shapes in calls.items():
        # Without the grid: 84 LSTM and 131 product shapes; on it 21 and 5.
        assert len(set(shapes)) <= batches / 5, (kind, len(set(shapes)), batches)


def test_a_huge_line_is_tagged_in_token_groups_with_the_same_tags(trained_run, monkeypatch):
    tagger = birnn_tag.load(trained_run, device="cpu")
    line = InputSentence.from_tokens([token for s in random_sentences(40, seed=3) for token in s.tokens])
    whole = next(tagger.tag_stream([line]))
    monkeypatch.setattr(prediction, "GROUP_TOKENS", 50)
    grouped = next(tagger.tag_stream([line]))
    assert len(line.tokens) > 50 * 10
    assert grouped.tags == whole.tags
    assert grouped.confidences == pytest.approx(whole.confidences, abs=1e-5)


def test_inference_batches_never_exceed_the_token_cap():
    lengths = [250] * 600 + [3] * 10  # one long line cut into pieces of data.max_length
    for batch in sorted_batches(lengths, batch_size=256):
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= MAX_BATCH_TOKENS
