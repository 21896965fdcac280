"""Transformer word features on tiny random BERT and RoBERTa models written here: every vector is
checked against the Hugging Face model run directly on the subwords the module should have fed it."""

import hashlib
import random

import pytest
import torch

pytest.importorskip("transformers")
from transformers import AutoModel, BertConfig, BertModel, BertTokenizerFast  # noqa: E402

from birnn_tag.contextual import transformer  # noqa: E402
from birnn_tag.contextual.transformer import TransformerFeatures, owner_windows, window_starts  # noqa: E402
from birnn_tag.errors import BirnnTagError  # noqa: E402

LETTERS = [chr(code) for code in range(ord("a"), ord("z") + 1)]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat", "on", "mat", "new", "york", "##er"]
         + LETTERS + ["##" + letter for letter in LETTERS])
# Words of one, two and three subwords ("cats" = cat ##s, "yorker" = york ##er, "xyz" = x ##y ##z).
WORDS = ["the", "cat", "cats", "sat", "on", "mat", "new", "york", "yorker", "xyz", "a", "mats"]


def tiny_bert(folder, seed):
    vocab = folder.parent / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    # transformers 5 reads the file from `vocab` (and quietly ignores `vocab_file`); 4 from `vocab_file`.
    BertTokenizerFast(vocab=str(vocab), vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("bert") / "model", seed=0)


@pytest.fixture(scope="module")
def reference(bert):
    """The same weights, loaded by transformers alone."""
    return AutoModel.from_pretrained(bert).eval()


@pytest.fixture(autouse=True)
def fp32(monkeypatch):
    # CPUs with AVX512-BF16 would run frozen models in bf16; the comparisons here are exact.
    monkeypatch.setattr(transformer, "has_native_bf16", lambda device: False)


def subword_ids(words):
    """Each word's BERT subword ids, as WordPiece splits it."""
    index = {piece: position for position, piece in enumerate(VOCAB)}
    pieces = {"cats": ["cat", "##s"], "mats": ["mat", "##s"], "yorker": ["york", "##er"], "xyz": ["x", "##y", "##z"]}
    return [[index[piece] for piece in pieces.get(word, [word])] for word in words]


def hidden_states(model, ids, layers):
    """(len(ids), len(layers), dim) states of ``ids`` run alone between [CLS] and [SEP]."""
    with torch.no_grad():
        states = model(input_ids=torch.tensor([[2] + ids + [3]]), output_hidden_states=True).hidden_states
    return torch.stack([states[layer][0, 1:-1] for layer in layers], dim=1)


def pool(states, pooling):
    return {"first": states[0], "last": states[-1], "mean": states.mean(0)}[pooling]


def test_shapes_zeros_past_the_end_and_padding_changes_nothing(bert):
    features = TransformerFeatures(str(bert), [0, -1])
    sentences = [["the", "cat", "sat"], ["new", "yorker", "cats", "sat", "on", "the", "mat"], [], ["xyz"]]
    batch = features(sentences)
    assert batch.shape == (4, 7, 2, 32) and batch.dtype == torch.float32
    assert (features.num_layers, features.dim, features.max_subwords) == (2, 32, 128)
    for row, words in enumerate(sentences):
        assert torch.all(batch[row, len(words):] == 0)
        assert torch.all(batch[row, :len(words)].abs().sum(-1) > 0)
        if words:
            torch.testing.assert_close(batch[row, :len(words)], features([words])[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
def test_pooling_takes_a_words_subwords_from_the_model(bert, reference, pooling):
    words = ["the", "cats", "sat", "xyz"]
    features = TransformerFeatures(str(bert), [1, -1], pooling)([words])[0]
    ids = subword_ids(words)
    states = hidden_states(reference, sum(ids, []), [1, 2])
    starts = [0, 1, 3, 4, 7]
    for word in range(len(words)):
        expected = pool(states[starts[word]:starts[word + 1]], pooling)
        torch.testing.assert_close(features[word], expected, atol=1e-5, rtol=0)


def test_windows_overlap_cover_everything_and_each_subword_is_taken_where_it_sees_most():
    assert window_starts(100, 126) == [0]
    assert window_starts(300, 126) == [0, 63, 126, 174]  # the module docstring's picture
    owners = owner_windows(300, 126)
    assert owners[100] == 1  # 25 from window 0's right edge, 37 from window 1's left
    assert owners[94] == 0  # 31 from both edges: the earlier window
    for count in (127, 130, 200, 301, 1000):
        starts = window_starts(count, 126)
        assert starts[0] == 0 and starts[-1] + 126 == count
        assert all(0 < after - before <= 63 for before, after in zip(starts, starts[1:]))
        for position, owner in enumerate(owner_windows(count, 126)):
            margins = [min(position - start, start + 125 - position) if start <= position < start + 126 else -1
                       for start in starts]
            assert margins[owner] == max(margins) >= 0 and margins.index(max(margins)) == owner


def test_a_long_sentence_is_stitched_from_the_windows_the_rule_picks(bert, reference):
    words = random.Random(0).choices(WORDS, k=400)
    ids = subword_ids(words)
    flat = sum(ids, [])
    width = 128 - 2
    starts, owners = window_starts(len(flat), width), owner_windows(len(flat), width)
    assert len(flat) > 2 * width and len(starts) > 3
    windows = [hidden_states(reference, flat[start:start + width], [0, 1, 2]) for start in starts]
    expected = torch.stack([windows[owner][position - starts[owner]] for position, owner in enumerate(owners)])
    # Windows disagree where they overlap, so taking a subword from the wrong one would show.
    assert not torch.allclose(windows[0][starts[1]], windows[1][0], atol=1e-3)
    bounds = [0]
    for pieces in ids:
        bounds.append(bounds[-1] + len(pieces))
    for pooling in ("first", "mean", "last"):
        features = TransformerFeatures(str(bert), [0, 1, 2], pooling)([words])[0]
        pooled = torch.stack([pool(expected[start:end], pooling) for start, end in zip(bounds, bounds[1:])])
        torch.testing.assert_close(features, pooled, atol=1e-5, rtol=0)


def test_a_word_without_subwords_is_the_unknown_token(bert, reference):
    features = TransformerFeatures(str(bert), [-1])([["the", "\u200b", "cat", ""]])[0]
    torch.testing.assert_close(features, hidden_states(reference, [5, 1, 6, 1], [2]), atol=1e-5, rtol=0)


def test_frozen_weights_are_not_parameters_but_follow_the_module(bert):
    features = TransformerFeatures(str(bert), [-1])
    assert list(features.parameters()) == [] and features.state_dict() == {}
    output = features([["the", "cat"]])
    assert not output.requires_grad
    # The features still feed a trained layer, whose backward pass saves them.
    head = torch.nn.Linear(32, 2)
    head(output).sum().backward()
    assert head.weight.grad is not None
    assert features.to("cpu") is features
    torch.testing.assert_close(features([["the", "cat"]]), output)
    features.double()  # reaches the unregistered model, as .to("cuda") must
    assert next(features.model.parameters()).dtype == torch.float64
    assert features([["the", "cat"]]).dtype == torch.float32


def test_fine_tuned_weights_are_parameters_and_get_gradients(bert, reference):
    features = TransformerFeatures(str(bert), [-1], fine_tune=True)
    names = set(features.state_dict())
    assert names == {f"model.{name}" for name in reference.state_dict()}
    assert len(list(features.parameters())) == len(list(reference.parameters()))
    assert features.train().model.training and not features.eval().model.training
    output = features([["the", "cats"]])
    # Not output.sum(): a fresh LayerNorm's outputs sum to a constant, which has no gradient.
    (output * torch.randn_like(output)).sum().backward()
    assert features.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_fingerprint_is_the_weight_files_hash_and_a_different_model_is_refused(bert, tmp_path):
    features = TransformerFeatures(str(bert), [-1])
    fingerprint = features.fingerprint()
    expected = hashlib.sha256((bert / "model.safetensors").read_bytes()).hexdigest()
    assert fingerprint == {"name": str(bert), "revision": None, "sha256": expected}
    features.check_fingerprint(fingerprint)
    other = TransformerFeatures(str(tiny_bert(tmp_path / "model", seed=1)), [-1])
    with pytest.raises(BirnnTagError, match=rf"^model.transformer.name: .* is not the model this run was trained "
                                            rf"with \(expected sha256 {expected[:12]}\.\.\., found [0-9a-f]{{12}}\.\.\.\)$"):
        other.check_fingerprint(fingerprint)


def test_saved_files_rebuild_the_architecture_without_the_original_weights(bert, tmp_path):
    trained = TransformerFeatures(str(bert), [1, -1], "mean", fine_tune=True).eval()
    trained.save_files(tmp_path / "files")
    rebuilt = TransformerFeatures(str(tmp_path / "gone"), [1, -1], "mean", fine_tune=True, files=tmp_path / "files").eval()
    sentences = [["new", "yorker", "cats"], ["the"]]
    assert not torch.allclose(rebuilt(sentences), trained(sentences))  # random weights, not bert's
    rebuilt.load_state_dict(trained.state_dict())
    torch.testing.assert_close(rebuilt(sentences), trained(sentences), atol=0, rtol=0)
    assert rebuilt.max_subwords == trained.max_subwords == 128
    # Frozen, the weights still come from the name, the tokenizer from the files.
    frozen = TransformerFeatures(str(bert), [1, -1], "mean", files=tmp_path / "files")
    torch.testing.assert_close(frozen(sentences), trained(sentences), atol=1e-6, rtol=0)


def test_bf16_autocast_still_returns_float32_features(bert, monkeypatch):
    features = TransformerFeatures(str(bert), [-1])
    exact = features([["new", "yorker"]])
    monkeypatch.setattr(transformer, "has_native_bf16", lambda device: True)
    approximate = features([["new", "yorker"]])
    assert approximate.dtype == torch.float32 and not torch.equal(approximate, exact)
    torch.testing.assert_close(approximate, exact, atol=0.1, rtol=0.05)


def test_roberta_windows_leave_room_for_its_position_offset_and_words_get_their_leading_space(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(["the cat sat on the mat", "new york cats sat"] * 5, vocab_size=300,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(tmp_path))
    vocab, merges = str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, vocab_file=vocab, merges_file=merges)
    tokenizer.save_pretrained(tmp_path / "model")
    torch.manual_seed(0)
    # 34 positions of which the first two (up to pad_token_id) are never used: 32 tokens a window.
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=34, pad_token_id=1)
    model = RobertaModel(config).eval()
    model.save_pretrained(tmp_path / "model")
    features = TransformerFeatures(str(tmp_path / "model"), [-1])
    assert features.max_subwords == 32
    cat = tokenizer.convert_tokens_to_ids("Ġcat")
    with torch.no_grad():
        states = model(input_ids=torch.tensor([[0, tokenizer.convert_tokens_to_ids("Ġthe"), cat, 2]])).last_hidden_state
    torch.testing.assert_close(features([["the", "cat"]])[0, :, 0], states[0, 1:3], atol=1e-5, rtol=0)
    assert features([["cat"] * 100]).shape == (1, 100, 1, 16)  # 100 subwords: windows, no position overflow


def test_errors_name_the_setting_and_the_valid_values(bert, tmp_path):
    with pytest.raises(BirnnTagError, match=r"^model.transformer.name: cannot load '.*missing'[^\n]*$"):
        TransformerFeatures(str(tmp_path / "missing"), [-1])
    for layer in (3, -4):
        with pytest.raises(BirnnTagError, match=rf"^model.transformer.layers: {layer} is out of range .* expected -3..2"):
            TransformerFeatures(str(bert), [0, layer])
    with pytest.raises(BirnnTagError, match=r"^model.transformer.layers: must name at least one layer$"):
        TransformerFeatures(str(bert), [])
    with pytest.raises(BirnnTagError, match=r"^model.transformer.pooling: unknown pooling 'max'; expected one of first, mean, last$"):
        TransformerFeatures(str(bert), [-1], "max")
