"""A training step and a tagging batch on a GPU never make the host wait for the device, shown on
the CPU with :class:`device_sync.SimulatedDevice`; the GPU's sync-free paths compute what the
CPU's do."""

import operator
from contextlib import nullcontext
from pathlib import Path

import numpy
import pytest
import torch
import torch.nn.functional as F

from birnn_tag.config import TaggingModelConfig, TrainingConfig
from birnn_tag.data.batch_plans import DEVICE_BATCH_TOKENS, MAX_BATCH_TOKENS, batch_token_cap, sorted_batches
from birnn_tag.data.batching import Batch, collate
from birnn_tag.data.encoding import MISSING_ID, EncodedSentence
from birnn_tag.tagging.network.tagger import Tagger, build_tagger
from birnn_tag.tagging.prediction.decoding import decode_k_best, decode_sentences
from birnn_tag.training.epoch import clip_gradients, make_optimizer
from conftest import tiny_config_dict
from device_sync import DeviceSync, SimulatedDevice

LABELS = ["O", "B-X", "I-X", "B-Y", "I-Y"]
# Model options over the suite's tiny sizes: each head, each character encoder, each dropout.
CONFIGS = {
    "crf-char-cnn": {"head": "crf"},
    "softmax-char-cnn": {"head": "softmax"},
    "crf-char-lstm-casing-dropout": {
        "head": "crf", "char_encoder": "lstm", "casing_dim": 4, "num_layers": 2, "dropout": 0.3, "word_dropout": 0.3,
    },
    "softmax-gru-no-chars-unconstrained": {"head": "softmax", "cell": "gru", "char_encoder": "none", "constrained": False},
}


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model's operations are too small to share out: on a busy machine more threads
    only wait for each other (seconds a test instead of milliseconds)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_tagger(options: dict) -> Tagger:
    """An untrained tagger of the suite's tiny sizes (conftest) with ``options``, seeded."""
    sizes = tiny_config_dict(Path("unused"), Path("unused"))["model"]
    torch.manual_seed(0)
    return build_tagger(TaggingModelConfig(**{**sizes, **options}), num_words=50, num_chars=30, labels=LABELS, scheme="IOB2")


def sample_batch(*, missing: bool = False, soft: bool = False) -> Batch:
    """Five sentences of 1 to 8 tokens, collated on the host and moved to the device (the CPU
    here) as training and tagging move a batch; ``missing``: the first sentence's second tag is
    missing; ``soft``: with soft targets (a teacher's, for distillation)."""
    generator = torch.Generator().manual_seed(1)
    sentences = []
    for row, length in enumerate((5, 3, 8, 8, 1)):
        widths = torch.randint(1, 7, (length,), generator=generator)
        chars = torch.zeros(length, int(widths.max()), dtype=torch.long)
        for token, width in enumerate(widths.tolist()):
            chars[token, :width] = torch.randint(2, 30, (width,), generator=generator)
        tags = torch.randint(0, len(LABELS), (length,), generator=generator)
        if missing and row == 0:
            tags[1] = MISSING_ID
        targets = torch.softmax(torch.randn(length, len(LABELS), generator=generator), dim=1) if soft else None
        words, casing = torch.randint(2, 50, (length,), generator=generator), torch.randint(1, 8, (length,), generator=generator)
        sentences.append(EncodedSentence(words, chars, tags, casing, soft=targets))
    return collate(sentences, range(len(sentences))).to(torch.device("cpu"))


def on_device(batch: Batch) -> SimulatedDevice:
    """The simulated device holding ``batch``. Its lengths stay in host memory by design
    (Batch.to: pack_padded_sequence wants them there), so reading them never waits for the
    device; its other tensors, and the model's, are the device's."""
    return SimulatedDevice(host=[batch.lengths])


# --- the simulated device catches what it should, and only that -------------------------------

# Each case: what it does to a device vector ``x`` (float), ``mask`` and ``ids`` (long) and the
# host tensor ``host``, and a phrase of the reason it must give.
SYNCS = {
    "item": (lambda x, mask, ids, host: x[0].item(), "values on the host"),
    "tolist": (lambda x, mask, ids, host: x.tolist(), "values on the host"),
    "bool": (lambda x, mask, ids, host: bool(x[0] > 1), "values on the host"),
    "int": (lambda x, mask, ids, host: int(ids[0]), "values on the host"),
    "float": (lambda x, mask, ids, host: float(x[0]), "values on the host"),
    "complex": (lambda x, mask, ids, host: complex(x[0]), "values on the host"),
    "index": (lambda x, mask, ids, host: operator.index(ids[0]), "values on the host"),
    "format": (lambda x, mask, ids, host: f"{x[0]:.2f}", "values on the host"),
    "repr": (lambda x, mask, ids, host: repr(x), "values on the host"),
    "contains": (lambda x, mask, ids, host: 1.0 in x, "values on the host"),
    "equal": (lambda x, mask, ids, host: torch.equal(x, x), "values on the host"),
    "allclose": (lambda x, mask, ids, host: torch.allclose(x, x), "values on the host"),
    "is_nonzero": (lambda x, mask, ids, host: torch.is_nonzero(x[:1]), "values on the host"),
    "cpu": (lambda x, mask, ids, host: x.cpu(), "values on the host"),
    "numpy": (lambda x, mask, ids, host: x.numpy(), "values on the host"),
    "numpy-asarray": (lambda x, mask, ids, host: numpy.asarray(x), "values on the host"),
    "to-cpu": (lambda x, mask, ids, host: x.to("cpu"), "copy from the device"),
    "copy-into-host-memory": (lambda x, mask, ids, host: torch.zeros(3).copy_(x), "into host memory"),
    "nonzero": (lambda x, mask, ids, host: torch.nonzero(mask), "depends on the device's data"),
    "Tensor.nonzero": (lambda x, mask, ids, host: mask.nonzero(), "depends on the device's data"),
    "argwhere": (lambda x, mask, ids, host: torch.argwhere(mask), "depends on the device's data"),
    "where-condition-alone": (lambda x, mask, ids, host: torch.where(mask), "sized by the data"),
    "boolean-mask-index": (lambda x, mask, ids, host: x[mask], "boolean mask"),
    "boolean-mask-assignment": (lambda x, mask, ids, host: x.clone().__setitem__(mask, 0.0), "boolean mask"),
    "boolean-mask-index_put": (lambda x, mask, ids, host: x.index_put((mask,), torch.tensor(0.0)), "boolean mask"),
    "masked_select": (lambda x, mask, ids, host: x.masked_select(mask), "depends on the device's data"),
    "unique": (lambda x, mask, ids, host: torch.unique(x), "depends on the device's data"),
    "Tensor.unique": (lambda x, mask, ids, host: x.unique(return_inverse=True), "depends on the device's data"),
    "unique_consecutive": (lambda x, mask, ids, host: torch.unique_consecutive(x), "depends on the device's data"),
    "bincount": (lambda x, mask, ids, host: torch.bincount(ids), "depends on the device's data"),
    "repeat_interleave-tensor-repeats": (lambda x, mask, ids, host: x[:2].repeat_interleave(ids + 1), "sized by the data"),
    "repeat_interleave-counts-alone": (lambda x, mask, ids, host: torch.repeat_interleave(ids), "sized by the data"),
    "one_hot-without-num_classes": (lambda x, mask, ids, host: F.one_hot(ids), "largest id"),
    "python-list-index": (lambda x, mask, ids, host: x[[0, 2]], "Python list"),
    "host-tensor-index": (lambda x, mask, ids, host: x[host], "host tensor as index"),
    "blocking-copy-to-device": (lambda x, mask, ids, host: host.to(x.device), "blocking copy"),
    "blocking-copy_-from-host": (lambda x, mask, ids, host: x[:2].clone().copy_(host.float()), "blocking copy"),
    "tensor-on-device-from-data": (lambda x, mask, ids, host: torch.tensor([1.0], device=x.device), "blocking copy"),
    "new_tensor-from-data": (lambda x, mask, ids, host: x.new_tensor([1.0]), "blocking copy"),
    # What is copied to the device, or made there, is the device's: reading it waits.
    "read-after-copy-to-device": (lambda x, mask, ids, host: host.to(x.device, non_blocking=True).tolist(), "values on the host"),
    "read-of-a-tensor-made-on-device": (lambda x, mask, ids, host: torch.zeros(2, device=x.device).tolist(), "values on the host"),
}
# Their sync-free counterparts, and the host's own bookkeeping.
FREE = {
    "long-index": lambda x, mask, ids, host: x[ids],
    "slice-and-int-index": lambda x, mask, ids, host: x[1:][0],
    "where-three-arguments": lambda x, mask, ids, host: torch.where(mask, x, 0.0),
    "masked_fill": lambda x, mask, ids, host: x.masked_fill(mask, 0.0),
    "repeat_interleave-int": lambda x, mask, ids, host: x.repeat_interleave(2),
    "repeat_interleave-with-output_size": lambda x, mask, ids, host: x[:2].repeat_interleave(ids + 1, output_size=4),
    "one_hot-with-num_classes": lambda x, mask, ids, host: F.one_hot(ids, 3),
    "dtype-change": lambda x, mask, ids, host: x.to(torch.float64),
    "non-blocking-copy-to-device": lambda x, mask, ids, host: host.to(x.device, non_blocking=True),
    "host-reads": lambda x, mask, ids, host: (host.tolist(), int(host.max()), bool(host.any()), host[host > 1]),
    "reads-of-host-results": lambda x, mask, ids, host: torch.sort(host, descending=True)[1].tolist(),
    "read-of-a-tensor-made-on-host": lambda x, mask, ids, host: torch.zeros(2).tolist(),
}


def simulated_tensors() -> tuple[torch.Tensor, ...]:
    """``x``, ``mask``, ``ids`` (device tensors under the mode) and ``host`` (a host tensor)."""
    return torch.tensor([1.0, 2.0, 3.0]), torch.tensor([False, True, True]), torch.tensor([0, 2]), torch.tensor([2, 1])


@pytest.mark.parametrize("case", SYNCS.values(), ids=SYNCS.keys())
def test_the_simulated_device_refuses_each_operation_that_waits_for_it(case):
    operation, reason = case
    x, mask, ids, host = simulated_tensors()
    with pytest.raises(DeviceSync, match=reason), SimulatedDevice(host=[host]):
        operation(x, mask, ids, host)
    operation(x, mask, ids, host)  # outside the mode it runs


@pytest.mark.parametrize("operation", FREE.values(), ids=FREE.keys())
def test_the_simulated_device_allows_what_never_waits(operation):
    x, mask, ids, host = simulated_tensors()
    with SimulatedDevice(host=[host]):
        operation(x, mask, ids, host)


def test_device_tensors_answer_is_cuda_and_host_tensors_do_not():
    x, _, _, host = simulated_tensors()
    with SimulatedDevice(host=[host]) as device:
        assert x.is_cuda and (x + 1).is_cuda
        assert not host.is_cuda and not (host + 1).is_cuda and not torch.zeros(2).is_cuda
    assert device.cuda_answers == 2
    assert not x.is_cuda


# --- the tagger ---------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("targets", ["gold-with-a-missing-tag", "soft"])
@pytest.mark.parametrize("options", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_training_step_never_makes_the_host_wait_for_the_device(options, targets, optimizer):
    model = tiny_tagger(options).train()
    batch = sample_batch(missing=targets != "soft", soft=targets == "soft")
    step = make_optimizer(model, TrainingConfig(optimizer=optimizer))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with on_device(batch) as device:
        # train_epoch's step (training/epoch.py); the gradients' norm is above the bound: scaled.
        loss = model(batch)
        step.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model, 0.01)
        step.step()
    assert device.cuda_answers, "the model never asked whether it was on a GPU: it ran its CPU paths"
    assert torch.isfinite(loss)
    unchanged = [name for name, p in model.named_parameters() if p.grad is not None and torch.equal(p, before[name])]
    assert not unchanged


@pytest.mark.parametrize("options", CONFIGS.values(), ids=CONFIGS.keys())
def test_tagging_a_batch_never_makes_the_host_wait_for_the_device(options):
    model = tiny_tagger(options).eval()
    batch = sample_batch()
    with torch.inference_mode(), on_device(batch) as device:
        tag_ids, confidences = model.decode(batch, confidences=True)
    assert device.cuda_answers
    with torch.inference_mode():
        expected_tags, expected_confidences = model.decode(batch, confidences=True)  # the CPU path
    assert torch.equal(tag_ids, expected_tags)
    torch.testing.assert_close(confidences, expected_confidences)


@pytest.mark.parametrize("targets", ["gold", "gold-with-a-missing-tag", "soft"])
@pytest.mark.parametrize("options", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_gpu_paths_give_the_cpu_paths_loss_and_gradients(options, targets):
    # In eval mode, so that dropout (drawn differently on the two paths) is off.
    model = tiny_tagger(options).eval()
    batch = sample_batch(missing=targets == "gold-with-a-missing-tag", soft=targets == "soft")
    results = []
    for simulated in (True, False):
        model.zero_grad()
        with on_device(batch) if simulated else nullcontext():
            loss = model.loss(batch)
            loss.backward()
        results.append([loss.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None])
    gpu, cpu = results
    assert len(gpu) == len(cpu)
    for on_gpu, on_cpu in zip(gpu, cpu):
        torch.testing.assert_close(on_gpu, on_cpu)


def many_sentences(count: int) -> list[EncodedSentence]:
    """``count`` sentences of 1 to 12 tokens, in host memory."""
    generator = torch.Generator().manual_seed(2)
    sentences = []
    for length in torch.randint(1, 13, (count,), generator=generator).tolist():
        chars = torch.randint(2, 30, (length, 4), generator=generator)
        words, casing = torch.randint(2, 50, (length,), generator=generator), torch.randint(1, 8, (length,), generator=generator)
        sentences.append(EncodedSentence(words, chars, torch.zeros(length, dtype=torch.long), casing))
    return sentences


@pytest.mark.parametrize("options", [CONFIGS["crf-char-cnn"], CONFIGS["softmax-gru-no-chars-unconstrained"]], ids=["crf", "softmax"])
def test_tagging_copies_each_batch_to_the_host_once(options):
    model, cpu = tiny_tagger(options).eval(), torch.device("cpu")
    sentences = many_sentences(40)
    with SimulatedDevice(copies=True) as device:
        tags, confidences = decode_sentences(model, sentences, 8, cpu, confidences=True)
    batches = len(sorted_batches([len(s) for s in sentences], 8))
    assert device.cuda_answers and device.copies == batches > 1
    expected_tags, expected_confidences = decode_sentences(model, sentences, 8, cpu, confidences=True)  # the CPU path
    assert tags == expected_tags
    for got, expected in zip(confidences, expected_confidences):  # the GPU path's character features round differently
        assert got == pytest.approx(expected, abs=1e-5)
    if options["head"] == "crf":
        with SimulatedDevice(copies=True) as device:
            best = decode_k_best(model, sentences, 8, cpu, k=3)
        assert device.copies == 2 * batches  # the paths and their probabilities
        expected = decode_k_best(model, sentences, 8, cpu, k=3)
        assert [[path for path, _ in paths] for paths in best] == [[path for path, _ in paths] for paths in expected]


def test_a_gpu_batch_holds_thousands_of_sentences():
    lengths = [14] * 3000  # news sentences
    assert batch_token_cap("cuda") == DEVICE_BATCH_TOKENS and batch_token_cap("cpu") == MAX_BATCH_TOKENS
    on_cpu, on_gpu = (sorted_batches(lengths, 4096, batch_token_cap(kind)) for kind in ("cpu", "cuda"))
    assert [len(batch) for batch in on_gpu] == [3000]
    assert max(len(batch) for batch in on_cpu) == MAX_BATCH_TOKENS // 14
