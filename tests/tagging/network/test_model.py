"""Tensor layouts and padding invariance of the BiRNN tagger, for every recurrent cell."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from birnn_tag.config import TaggingModelConfig
from birnn_tag.data.batch_plans import sorted_batches
from birnn_tag.data.batching import collate
from birnn_tag.data.encoding import EncodedSentence
from birnn_tag.nn.embeddings import CharCNN, distinct_rows
from birnn_tag.nn.encoder import BiRNNEncoder
from birnn_tag.nn.recurrent import CELLS, final_states
from birnn_tag.tagging.data.schemes import first_invalid
from birnn_tag.tagging.network.tagger import build_tagger
from conftest import needs_native_bf16


def random_sentence(length: int, generator: torch.Generator, max_chars: int = 6) -> EncodedSentence:
    words = torch.randint(2, 50, (length,), generator=generator)
    widths = torch.randint(1, max_chars + 1, (length,), generator=generator)
    chars = torch.zeros(length, max_chars, dtype=torch.long)
    for i, width in enumerate(widths.tolist()):
        chars[i, :width] = torch.randint(2, 30, (width,), generator=generator)
    tags = torch.randint(0, 5, (length,), generator=generator)
    casing = torch.randint(1, 8, (length,), generator=generator)
    return EncodedSentence(words, chars[:, : int(widths.max())], tags, casing)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 3])
def test_padded_path_equals_packed_path_and_final_states_sit_at_sequence_ends(layers, cell):
    torch.manual_seed(0)
    hidden, batch = 7, 5
    encoder = BiRNNEncoder(input_dim=4, hidden_size=hidden, num_layers=layers, dropout=0.0, cell=cell).eval()
    lengths = torch.tensor([6, 1, 9, 3, 9])
    inputs = torch.randn(batch, 9, 4)
    out = encoder.padded(inputs, lengths)  # the dense path (an LSTM's on CPU; every cell's in an ONNX export)
    assert out.shape == (batch, 9, 2 * hidden)
    reference = encoder.packed(inputs, lengths)  # the path CUDA takes
    assert torch.allclose(out, reference, atol=1e-6), (out - reference).abs().max()
    # The layout users of h_n rely on: h_n.view(layers, 2, batch, hidden) holds the last layer's
    # forward state at t = len-1 and its backward state at t = 0.
    _, state = encoder.rnn(pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False))
    h_n = final_states(state).view(layers, 2, batch, hidden)
    for row, length in enumerate(lengths.tolist()):
        assert torch.allclose(h_n[-1, 0, row], out[row, length - 1, :hidden], atol=1e-6)
        assert torch.allclose(h_n[-1, 1, row], out[row, 0, hidden:], atol=1e-6)
        assert torch.all(out[row, length:] == 0)  # nothing past the end


@pytest.mark.parametrize("cell", CELLS)
def test_padded_path_gives_the_packed_path_gradients(cell):
    torch.manual_seed(0)
    encoder = BiRNNEncoder(input_dim=4, hidden_size=7, num_layers=2, dropout=0.0, cell=cell)
    lengths = torch.tensor([6, 1, 9, 3, 9])
    inputs, weights = torch.randn(5, 9, 4), torch.randn(5, 9, 14)
    grads = []
    for path in (encoder.packed, encoder.padded):
        encoder.zero_grad()
        x = inputs.clone().requires_grad_()
        (path(x, lengths) * weights).sum().backward()  # padding outputs are 0 in both: no gradient
        grads.append([p.grad.clone() for p in encoder.parameters()] + [x.grad])
    for packed, padded in zip(*grads):
        assert torch.allclose(packed, padded, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"head": "crf", "char_encoder": "lstm", "casing_dim": 4},
        {"head": "crf", "char_encoder": "none", "constrained": False},
        {"char_encoder": "cnn", "char_kernel_size": 4, "word_dropout": 0.3},
        {"head": "crf", "cell": "gru", "char_encoder": "lstm"},
        {"cell": "rnn", "char_encoder": "lstm", "casing_dim": 4},
    ],
)
def test_padding_never_changes_scores_or_tags(options):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    config = TaggingModelConfig(word_dim=12, char_dim=5, char_filters=6, hidden_size=9, num_layers=2, **options)
    model = build_tagger(config, 50, 30, labels, "IOB2").eval()
    short = random_sentence(4, generator, max_chars=3)
    others = [random_sentence(n, generator, max_chars=12) for n in (17, 31, 2)]

    def run(sentences, row):
        batch = collate(sentences, range(len(sentences)))
        scores = model.head(model.features(batch))[row, : len(sentences[row])]
        tags, confidence = model.decode(batch)
        return scores, tags[row, : len(sentences[row])], confidence[row, : len(sentences[row])]

    with torch.no_grad():
        alone = run([short], 0)
        batched = run([others[0], short, others[1], others[2]], 1)
    assert alone[0].shape == (4, 5)
    assert torch.allclose(alone[0], batched[0], atol=1e-5), (alone[0] - batched[0]).abs().max()
    assert torch.equal(alone[1], batched[1])
    assert torch.allclose(alone[2], batched[2], atol=1e-5)


@needs_native_bf16
def test_under_bf16_autocast_the_encoder_runs_in_bf16_and_the_head_in_fp32():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    labels = ["O", "B-A", "I-A"]
    config = TaggingModelConfig(word_dim=12, char_dim=5, char_filters=6, hidden_size=9, num_layers=2, head="crf")
    model = build_tagger(config, 50, 30, labels, "IOB2").eval()
    sentences = [random_sentence(n, generator, max_chars=8) for n in (5, 3)]
    batch = collate(sentences, range(2))
    batch.tag_ids.masked_fill_(batch.mask, 1)
    dtypes = {}
    model.encoder.register_forward_hook(lambda module, args, out: dtypes.__setitem__("encoder", out.dtype))
    model.head.projection.register_forward_hook(lambda module, args, out: dtypes.__setitem__("emissions", out.dtype))
    with torch.no_grad():
        full = model.loss(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model.loss(batch)
            assert dtypes == {"encoder": torch.bfloat16, "emissions": torch.float32}
            tags, confidence = model.decode(batch)
    assert half.dtype == torch.float32 and torch.allclose(half, full, rtol=1e-2)
    assert confidence.dtype == torch.float32 and tags.shape == (2, 5)


@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
def test_char_cnn_equals_a_zero_padded_convolution_of_each_word_alone(kernel_size):
    torch.manual_seed(0)
    cnn = CharCNN(num_chars=30, char_dim=5, num_filters=7, kernel_size=kernel_size)
    words = [[3], [4, 5], [6, 7, 8, 9, 10, 11], [2, 2, 29]]
    char_ids = torch.zeros(len(words), 6, dtype=torch.long)
    for row, word in enumerate(words):
        char_ids[row, : len(word)] = torch.tensor(word)
    for row, word in enumerate(words):
        embedded = cnn.embedding(torch.tensor(word)).t()[None]  # (1, char_dim, len)
        expected = cnn.conv(embedded)[0, :, : len(word)].max(dim=1).values
        assert torch.allclose(cnn(char_ids)[row], expected, atol=1e-6)
        assert torch.allclose(cnn.dense(char_ids)[row], expected, atol=1e-6)  # the export's form


@pytest.mark.parametrize("char_encoder,cell", [("cnn", "lstm"), ("lstm", "lstm"), ("lstm", "gru"), ("lstm", "rnn"), ("none", "lstm")])
def test_the_dense_embedder_of_an_export_equals_the_forward_pass(char_encoder, cell):
    """TokenEmbedder.dense (given distinct spellings and each position's row) gives what forward
    gives at inference, for every character encoder, padding included."""
    torch.manual_seed(0)
    config = TaggingModelConfig(word_dim=6, char_encoder=char_encoder, char_dim=5, char_filters=7, char_hidden_size=4, casing_dim=3, hidden_size=8, cell=cell)
    model = build_tagger(config, num_words=20, num_chars=30, labels=["O", "B-X", "I-X"], scheme="IOB2").eval()
    sentences = [
        EncodedSentence(torch.tensor([2, 3, 4]), torch.tensor([[3, 4, 0], [5, 0, 0], [3, 4, 6]]), casing=torch.tensor([1, 2, 3])),
        EncodedSentence(torch.tensor([5, 2]), torch.tensor([[3, 4], [7, 8]]), casing=torch.tensor([4, 1])),
    ]
    batch = collate(sentences, [0, 1])
    spellings, spelling_ids = distinct_rows(batch.char_ids.flatten(0, 1))  # padding: the all-zero row
    with torch.no_grad():
        expected = model.embedder(batch.word_ids, batch.char_ids, batch.mask, batch.casing_ids)
        dense = model.embedder.dense(batch.word_ids, spellings, spelling_ids.view(batch.mask.shape), batch.mask, batch.casing_ids)
    assert torch.allclose(dense, expected, atol=1e-6)


def test_constrained_decoding_never_outputs_invalid_sequences():
    torch.manual_seed(3)
    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    model = build_tagger(TaggingModelConfig(word_dim=8, char_encoder="none", hidden_size=4), 50, 30, labels, "IOB2").eval()
    with torch.no_grad():
        model.head.projection.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0, 5.0]))  # raw argmax: all I- tags
        generator = torch.Generator().manual_seed(0)
        batch = collate([random_sentence(n, generator) for n in (5, 3, 8)], range(3))
        tags, _ = model.decode(batch)
    for row, length in enumerate(batch.lengths.tolist()):
        sequence = [labels[i] for i in tags[row, :length].tolist()]
        assert first_invalid(sequence, "IOB2") is None, sequence


def test_collate_shapes_and_mask():
    generator = torch.Generator().manual_seed(0)
    sentences = [random_sentence(n, generator) for n in (3, 5)]
    batch = collate(sentences, [7, 9])
    assert batch.word_ids.shape == (2, 5) and batch.tag_ids.shape == (2, 5)
    assert batch.char_ids.shape[:2] == (2, 5)
    assert batch.mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert batch.indices == [7, 9] and batch.num_tokens == 8


def test_distinct_rows_recovers_every_row():
    rows = torch.tensor([[3, 4, 0], [5, 0, 0], [3, 4, 0], [3, 4, 5], [5, 0, 0]])
    distinct, index = distinct_rows(rows)
    assert distinct.shape == (3, 3)
    assert torch.equal(distinct[index], rows)


def test_inference_batches_cover_every_sentence_once_and_cap_padding():
    lengths = [3] * 40 + [120, 2, 90] + [5] * 20  # mean 7.6: a batch may hold 4 * 7.6 padded tokens
    batches = sorted_batches(lengths, batch_size=4)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= 4 for batch in batches)
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * widest <= 4 * sum(lengths) / len(lengths)
        assert [lengths[i] for i in batch] == sorted(lengths[i] for i in batch)
    assert [120] in [[lengths[i] for i in batch] for batch in batches]  # the longest alone

