"""An exported tagger (``birnn-tag export``) run by onnxruntime and numpy, without PyTorch.

An export folder holds ``model.onnx`` (ids and lengths in; tag ids, confidences and emissions
out, the Viterbi search and the CRF's marginals inside the graph), the run's ``config.yaml`` and
``vocab.json`` (tokenizer settings, ``max_length``, labels and scheme come from them),
``export.json`` and a model card. Reading, tokenizing, cutting long sentences into pieces and
formatting are :mod:`~birnn_tag.tagging.prediction.streaming`'s, as for a PyTorch run, so the two give the
same output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml

from birnn_tag.config import config_from_dict, upgrade_format_1
from birnn_tag.data.batch_plans import sorted_batches
from birnn_tag.data.document_context import Context, spelling_keys
from birnn_tag.data.token_ids import TokenIds
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError, CheckpointError, first_line, short_repr
from birnn_tag.tagging.prediction.streaming import Decode
from birnn_tag.tagging.public.base import TaggingBase
from birnn_tag.runtime.threads import thread_count

# 2: data.tokenizer applies to the tagger's text (format 1 configs are upgraded on reading).
EXPORT_FORMAT = 2
MODEL_FILE, METADATA_FILE = "model.onnx", "export.json"
INPUTS = ("word_ids", "char_ids", "spelling_ids", "casing_ids", "lengths")
#: A model with document context reads windows: where each sentence token is in its window, and
#: each sentence's length.
WINDOW_INPUTS = ("positions", "sentence_lengths")
OUTPUTS = ("tag_ids", "confidences", "emissions")


def graph_inputs(windows: bool, memory: bool = False) -> tuple[str, ...]:
    """The exported graph's input names (with document context: read in windows; with document
    memory, the windows' spelling keys too)."""
    return INPUTS + (WINDOW_INPUTS if windows else ()) + (("spellings",) if memory else ())


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an export folder (it has ``export.json``)."""
    return (Path(path) / METADATA_FILE).is_file()


class OnnxTaggingModel(TaggingBase):
    """A tagger loaded by :func:`birnn_tag.load` from an export folder: ``tag``, ``tag_tokens``,
    ``tag_stream`` and ``read_inputs`` as for a run, on onnxruntime's CPU provider. Scoring data
    (``evaluate``) needs the run and PyTorch."""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        folder = Path(folder)
        try:
            metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
            raw = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
            if isinstance(metadata, dict) and metadata.get("format") == 1 and isinstance(raw, dict):
                raw = upgrade_format_1(raw)
            config = config_from_dict(raw, f"{folder / 'config.yaml'}", saved=True)
            vocabs = Vocabularies.from_dict(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{folder}: not a readable export folder: {first_line(error)}") from None
        if not isinstance(metadata, dict) or metadata.get("format") not in (1, EXPORT_FORMAT):
            found = metadata.get("format") if isinstance(metadata, dict) else short_repr(metadata)
            raise CheckpointError(f"{folder / METADATA_FILE}: export format {found!r} is not supported (this birnn-tag reads formats 1 to {EXPORT_FORMAT})")
        super().__init__(config, vocabs)
        self.folder, self.metadata = folder, metadata
        self.session = _session(folder / MODEL_FILE, thread_count(threads if threads is not None else config.training.threads))
        self.inputs = {node.name for node in self.session.get_inputs()}
        # Inputs a model does not use (char_ids without a character encoder) are not in its graph.
        document_inputs = set(graph_inputs(True, True)) - set(INPUTS)
        expected = set(graph_inputs(bool(config.model.document_context), config.model.document_memory)) - set(INPUTS)
        if self.inputs & document_inputs != expected:
            raise CheckpointError(f"{folder / MODEL_FILE}: its inputs do not match model.document_context / document_memory in config.yaml")
        self.ids = TokenIds(vocabs, config.encoding)

    def describe(self) -> dict[str, Any]:
        """:meth:`TaggingBase.describe` plus the backend, the folder, the weights' precision (fp32,
        or int8 for ``export --quantize int8``) and the exported run's scores."""
        source = {"backend": "onnxruntime", "source": str(self.folder), "precision": self.metadata.get("precision", "fp32")}
        return super().describe() | source | {"metrics": self.metadata.get("metrics", {})}

    def decoder(self, batch_size: int) -> Decode:
        """onnxruntime tagging, batched as PyTorch's (length-sorted, a padded-token budget)."""

        def decode(
            pieces: list[list[str]], confidences: bool, contexts: list[Context] | None = None
        ) -> tuple[list[list[int]], list[list[float]] | None]:
            tag_ids: list[list[int]] = [[] for _ in pieces]
            scores: list[list[float]] | None = [[] for _ in pieces] if confidences else None
            outputs = ["tag_ids", "confidences"] if confidences else ["tag_ids"]  # onnxruntime runs only what they need
            read = [len(piece) + (0 if contexts is None else len(contexts[i][0]) + len(contexts[i][1])) for i, piece in enumerate(pieces)]
            for indices in sorted_batches(read, batch_size):
                batch_contexts = None if contexts is None else [contexts[i] for i in indices]
                tags, *probabilities = self.run([pieces[i] for i in indices], outputs, batch_contexts)
                for row, index in enumerate(indices):
                    length = len(pieces[index])
                    tag_ids[index] = tags[row, :length].tolist()
                    if scores is not None:
                        scores[index] = probabilities[0][row, :length].tolist()
            return tag_ids, scores

        return decode

    def run(
        self, pieces: list[list[str]], outputs: Sequence[str] = OUTPUTS, contexts: list[Context] | None = None
    ) -> list[np.ndarray]:
        """The graph's ``outputs`` (numpy arrays, padded; by default tag ids, confidences and
        emissions) for one batch, each piece read in its document context (``contexts``; none
        given: alone) by a model with document context."""
        if not self.config.model.document_context:
            feed = self.ids.encode(pieces).padded()
        else:
            contexts = contexts or [([], [])] * len(pieces)
            windows = [[*before, *piece, *after] for piece, (before, after) in zip(pieces, contexts)]
            feed = self.ids.encode(windows).padded()
            lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
            starts = np.array([len(before) for before, _ in contexts], dtype=np.int64)
            steps = np.arange(int(lengths.max(initial=0)), dtype=np.int64)[None, :]
            feed["positions"] = np.minimum(starts[:, None] + steps, np.maximum(feed["lengths"][:, None] - 1, 0))
            feed["sentence_lengths"] = lengths
            if "spellings" in self.inputs:
                feed["spellings"] = np.zeros(feed["word_ids"].shape, dtype=np.int64)
                for row, window in enumerate(windows):
                    feed["spellings"][row, : len(window)] = spelling_keys(window)
        return self.session.run(list(outputs), {name: value for name, value in feed.items() if name in self.inputs})

    def evaluate(self, source: str | Path = "test", **options: Any) -> NoReturn:
        """Refused: scoring reads data through ``datasets`` and PyTorch; evaluate the run instead."""
        raise BirnnTagError(f"{self.folder}: an export folder cannot be evaluated; evaluate the run it was exported from")


def _session(path: Path, threads: int):
    try:
        import onnxruntime
    except ImportError:
        raise BirnnTagError("running an exported model needs onnxruntime: pip install 'birnn-tag[export]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for unreadable graphs
        raise CheckpointError(f"{path}: not a readable ONNX model: {first_line(error)}") from None
