"""``birnn-tag export --quantize int8``: the exported graph with int8 weights, and the check that
gates it.

onnxruntime's dynamic quantizer (``quantize_dynamic``: int8 weights, one scale per tensor;
activations quantized to uint8 at run time with scales measured on each batch) rewrites, in our
graph:

- the BiLSTM's ``LSTM`` nodes (one per direction and layer; the character BiLSTM's too) as
  ``DynamicQuantizeLSTM``: the input and recurrent weight matrices, most of the compute;
- the head's projection ``MatMul`` as ``MatMulInteger`` and the character CNN's ``Conv`` as
  ``ConvInteger``;
- the ``Gather`` of the word, character and casing embedding tables: int8 tables, each looked-up
  row dequantized. The word table (GloVe's vocabulary) is most of the file, hence the file's
  shrinking to about a quarter.

onnxruntime has no integer GRU or plain RNN kernel: those cells' recurrence stays fp32, and only
the tables, the projection and the CNN shrink. The Viterbi search and the CRF's marginals (``Loop``
bodies: additions and exponentials over the transition scores, no weight matrix) stay fp32 too.

Why dynamic rather than static quantization: onnxruntime's static (QDQ) quantizer has no rule for
``LSTM``, so the recurrence would stay fp32, and it needs calibration data; dynamic scales follow
each batch. Its pre-processing step is skipped: its symbolic shape inference does not get through
the Viterbi ``Loop``, and without it the same nodes are quantized.

An int8 export cannot tag exactly as PyTorch does, so its ``--check`` counts the tags that
differ and gates on the score: the export's F1 (token accuracy for labels without spans) on the
check split may fall at most ``tolerance`` points below PyTorch fp32's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch

from birnn_tag.data.reading.sources import load_corpus
from birnn_tag.errors import BirnnTagError, DataError, first_line
from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.tagging.data.preparation import clean_split
from birnn_tag.tagging.onnx.runtime import OnnxTaggingModel
from birnn_tag.tagging.public.pytorch import TaggingModel
from birnn_tag.tagging.scoring.evaluation import evaluate_tags

QUANTIZATIONS = ("int8",)
# Points of F1 (or token accuracy) an int8 export may lose against PyTorch fp32 on --check's split:
# more than the spread of the recipe's F1 over seeds would make int8 the larger source of error.
DEFAULT_TOLERANCE = 0.2
# The quantizer's replacements, by the op type they replace (a quantized Gather keeps its name).
QUANTIZED_FORMS = {"DynamicQuantizeLSTM": "LSTM", "MatMulInteger": "MatMul", "ConvInteger": "Conv"}


def check_quantization(quantize: str | None) -> None:
    """Raise unless ``quantize`` is None (fp32) or one of :data:`QUANTIZATIONS`."""
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise BirnnTagError(f"--quantize {quantize!r}: expected {', '.join(QUANTIZATIONS)} (or no --quantize for fp32)")


def quantize_graph(path: Path) -> dict[str, int]:
    """Replace the fp32 graph at ``path`` by its int8 form; returns the op types quantized, with
    how many nodes of each (``{"Conv": 1, "Gather": 3, "LSTM": 2, "MatMul": 1}``)."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise BirnnTagError(f"--quantize needs onnx and onnxruntime: pip install 'birnn-tag[export]' ({first_line(error)})") from None
    source = path.with_name(f"fp32-{path.name}")
    path.rename(source)
    try:
        with _quiet_quantizer():
            quantize_dynamic(source, path, weight_type=QuantType.QInt8)
    except Exception as error:  # onnxruntime's quantizer raises bare Exceptions
        raise BirnnTagError(f"--quantize int8: onnxruntime's quantizer failed: {first_line(error)}") from None
    finally:
        source.unlink()
    return quantized_nodes(onnx.load(str(path)).graph)


def quantized_nodes(graph) -> dict[str, int]:
    """The op types of the fp32 nodes that a quantized ONNX ``graph`` holds in integer form, with
    their counts: the quantizer's replacements, and ``Gather``s of int8 tables."""
    from onnx import TensorProto

    tables = {tensor.name for tensor in graph.initializer if tensor.data_type in (TensorProto.INT8, TensorProto.UINT8)}
    counts = Counter(QUANTIZED_FORMS[node.op_type] for node in graph.node if node.op_type in QUANTIZED_FORMS)
    counts.update("Gather" for node in graph.node if node.op_type == "Gather" and node.input[0] in tables)
    return dict(sorted(counts.items()))


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Silence what the quantizer logs on the root logger below warnings (a line per activation
    it quantizes at run time), and its advice to pre-process (see the module's docstring); a
    placeholder handler keeps ``logging.warning`` from installing a stderr handler for good where
    the root logger has none."""

    def worth_showing(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING and "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    placeholder = None if root.handlers else logging.NullHandler()
    root.addFilter(worth_showing)
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeFilter(worth_showing)
        if placeholder is not None:
            root.removeHandler(placeholder)


def labelled_split(loaded: LoadedModel, split: str) -> tuple[list[list[str]], list[list[str]]]:
    """The tokens and gold tags (in the run's scheme) of one split of the run's data."""
    corpus = load_corpus(loaded.config.data, only=split)
    sentences = clean_split(corpus, split, loaded.config.data)
    if "tags" not in sentences.column_names:
        raise DataError(f"{corpus.origins[split]}: no tags; --check of an int8 export scores the split against them")
    return sentences["tokens"], sentences["tags"]


@dataclasses.dataclass(frozen=True)
class QuantizedCheck:
    """``export --quantize int8 --check``: the tags of the int8 export that differ from PyTorch
    fp32's, and each one's headline score on the check split (``metric``: F1, or token accuracy
    for labels without spans; in [0, 1]). Passed when the export's score is at most
    ``tolerance`` points (of 100) below the reference's."""

    sentences: int
    differing_sentences: int
    tokens: int
    differing_tokens: int
    metric: str
    reference_score: float
    score: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return 100 * (self.reference_score - self.score) <= self.tolerance + 1e-9  # 1e-9: float rounding

    def summary(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        share = self.differing_tokens / self.tokens if self.tokens else 0.0
        change = 100 * (self.score - self.reference_score)
        return (
            f"check {verdict}: {self.sentences:,} sentences, {self.differing_tokens:,} of {self.tokens:,} tags "
            f"({100 * share:.2f} %) differ from PyTorch fp32's, in {self.differing_sentences:,} sentences; "
            f"{self.metric} {100 * self.score:.2f} against fp32's {100 * self.reference_score:.2f} "
            f"({change:+.2f} points; tolerance {self.tolerance:g})"
        )


def check_quantized(
    loaded: LoadedModel,
    folder: str | Path,
    sentences: list[list[str]],
    gold: list[list[str]],
    tolerance: float = DEFAULT_TOLERANCE,
    batch_size: int = 256,
) -> QuantizedCheck:
    """Tag ``sentences`` with PyTorch (fp32, the reference) and with the quantized export; count
    the tags that differ and score both against ``gold`` (tags in the run's scheme)."""
    reference = TaggingModel(loaded, torch.device("cpu"), "fp32")
    expected = [p.tags for p in reference.tag_stream(sentences, batch_size=batch_size, confidences=False)]
    got = [p.tags for p in OnnxTaggingModel(folder).tag_stream(sentences, batch_size=batch_size, confidences=False)]
    scheme = loaded.config.data.scheme
    reference_report, report = evaluate_tags(gold, expected, scheme), evaluate_tags(gold, got, scheme)
    return QuantizedCheck(
        sentences=len(sentences),
        differing_sentences=sum(a != b for a, b in zip(expected, got)),
        tokens=sum(map(len, expected)),
        differing_tokens=sum(x != y for a, b in zip(expected, got) for x, y in zip(a, b)),
        metric=report.to_dict()["headline"],
        reference_score=reference_report.score,
        score=report.score,
        tolerance=tolerance,
    )
