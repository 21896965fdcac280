"""``birnn-tag export``: a trained tagger as a self-contained ONNX folder, and the check that
onnxruntime tags as PyTorch does.

The graph is the whole tagger: word / character / casing ids and lengths in, tag ids, their
confidences (softmax probability or CRF marginal) and the emissions out. The constrained Viterbi
search and the CRF's forward-backward pass are TorchScript functions inside the traced model, so
the TorchScript exporter (``dynamo=False``) writes them as ONNX ``Loop``s that run for any
sentence length; the dynamo exporter unrolls loops for the traced length only. The embedder and
the BiRNN run in their ``dense`` forms, whose shapes follow the input's.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.config import save_config
from birnn_tag.data.batching import collate
from birnn_tag.data.encoding import TokenEncoder
from birnn_tag.data.pieces import cut_tokens
from birnn_tag.errors import BirnnTagError, first_line
from birnn_tag.runs.folder import report_scores, run_folder_of
from birnn_tag.tagging.network.crf import CRFHead, marginals
from birnn_tag.tagging.network.viterbi import viterbi
from birnn_tag.tagging.onnx.quantization import check_quantization, quantize_graph
from birnn_tag.tagging.onnx.runtime import EXPORT_FORMAT, METADATA_FILE, MODEL_FILE, OUTPUTS, OnnxTaggingModel, graph_inputs
from birnn_tag.tagging.network.tagger import Tagger, word_memory
from birnn_tag.tagging.public.pytorch import TaggingModel
from birnn_tag.version import __version__

DEFAULT_OPSET = 17
# onnxruntime and PyTorch round differently (other summation orders): emissions of a trained
# CoNLL-2003 model differed by up to 6e-6, CRF marginals, sums of exponentials over a whole
# sentence, by up to 1.2e-4. Tags must be identical.
EMISSION_TOLERANCE, CONFIDENCE_TOLERANCE = 1e-4, 1e-3


class ExportGraph(nn.Module):
    """A :class:`~birnn_tag.tagging.network.tagger.Tagger` from padded ids to tags, confidences and
    emissions, in a form the TorchScript ONNX exporter writes for any batch and length."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger
        with warnings.catch_warnings():
            # Deprecated in favour of torch.export, whose ONNX exporter unrolls loops for the traced
            # length only; the TorchScript exporter, which writes a Loop, needs scripted functions.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.search = torch.jit.script(viterbi)
            self.forward_backward = torch.jit.script(marginals)

    def forward(
        self,
        word_ids: torch.Tensor,
        char_ids: torch.Tensor,
        spelling_ids: torch.Tensor,
        casing_ids: torch.Tensor,
        lengths: torch.Tensor,
        positions: torch.Tensor | None = None,
        sentence_lengths: torch.Tensor | None = None,
        spellings: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, time) word, spelling and casing ids, (spellings, chars) char ids of the batch's
        distinct spellings, (batch,) lengths → tag ids (batch, time), confidences (batch, time),
        emissions (batch, time, num_tags).

        For a tagger with document context the ids are the sentences' windows', ``positions``
        (batch, time) where each sentence token is in its window (any position past the
        sentence's ``sentence_lengths``), and the outputs are the sentences'; with document memory
        ``spellings`` (batch, time) are the windows' spelling keys."""
        mask = torch.arange(word_ids.shape[1])[None, :] < lengths[:, None]  # (batch, time)
        embedded = self.tagger.embedder.dense(word_ids, char_ids, spelling_ids, mask, casing_ids)
        features = self.tagger.encoder.padded(embedded, lengths, grid=False)
        if spellings is not None:
            features = word_memory(features, spellings, mask)
        if positions is not None:
            features = features.gather(1, positions[:, :, None].expand(-1, -1, features.shape[2]))
            mask = torch.arange(positions.shape[1])[None, :] < sentence_lengths[:, None]
        head = self.tagger.head
        extra = {"forward_backward": self.forward_backward} if isinstance(head, CRFHead) else {}
        tag_ids, confidences = head.decode(features, mask, True, search=self.search, **extra)
        return tag_ids, confidences, head(features)


def export_model(loaded: LoadedModel, folder: str | Path, *, opset: int = DEFAULT_OPSET, quantize: str | None = None) -> Path:
    """Write ``loaded`` (a tagging run's model) as an export folder; returns it. With ``quantize``
    ``"int8"`` the graph's weights are int8 (:mod:`~birnn_tag.tagging.onnx.quantization`).

    The folder is built next to its destination and renamed into place, so a failed export leaves
    nothing behind; an existing destination is refused.
    """
    folder = Path(folder)
    check_quantization(quantize)
    if not isinstance(loaded.model, Tagger):
        raise BirnnTagError(f"{loaded.path}: only tagging runs can be exported; this is a {loaded.config.task} run")
    if len(loaded.model.contexts):
        raise BirnnTagError(
            f"{loaded.path}: runs with contextual features (model.transformer, model.lm_embeddings) cannot be "
            "exported to ONNX yet; serve them with birnn-tag serve"
        )
    if folder.exists():
        raise BirnnTagError(f"{folder}: already exists; remove it or choose another -o")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        windows = bool(loaded.config.model.document_context)
        _write_graph(loaded.model, staging / MODEL_FILE, opset, windows)
        quantized = {"quantized_nodes": quantize_graph(staging / MODEL_FILE)} if quantize else {}
        save_config(loaded.config, staging / "config.yaml")
        loaded.vocabs.save(staging / "vocab.json")
        metadata = {
            "format": EXPORT_FORMAT,
            "birnn_tag_version": __version__,
            "torch_version": torch.__version__,
            "opset": opset,
            "precision": quantize or "fp32",
            **quantized,
            "source": str(loaded.path),
            "labels": loaded.vocabs.labels.items,
            "scheme": loaded.config.data.scheme,
            "max_length": loaded.config.data.max_length,
            "inputs": list(graph_inputs(windows, loaded.model.memory)),
            "outputs": list(OUTPUTS),
            "metrics": report_scores(run_folder_of(loaded.path)),
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        (staging / "README.md").write_text(model_card(loaded, metadata), encoding="utf-8")
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write_graph(model: Tagger, path: Path, opset: int, windows: bool) -> None:
    graph = ExportGraph(model).eval()
    # Two sentences (3 and 2 tokens), four spellings of up to 4 characters after the empty one
    # (row 0, for padding): any shape traces the same graph. As windows: sentences of 2 and 1
    # tokens at positions 1 and 0.
    example = (
        torch.tensor([[2, 3, 4], [5, 6, 0]]),
        torch.tensor([[0, 0, 0, 0], [2, 3, 0, 0], [4, 0, 0, 0], [5, 6, 7, 8], [3, 4, 0, 0]]),
        torch.tensor([[1, 2, 3], [2, 4, 0]]),
        torch.tensor([[1, 2, 3], [4, 5, 0]]),
        torch.tensor([3, 2]),
    )
    axes = {"word_ids": ["batch", "window_time" if windows else "time"], "char_ids": ["spellings", "chars"],
            "lengths": ["batch"], "tag_ids": ["batch", "time"], "confidences": ["batch", "time"], "emissions": ["batch", "time"]}
    axes |= {name: axes["word_ids"] for name in ("spelling_ids", "casing_ids")}
    if windows:
        example += (torch.tensor([[1, 2], [0, 0]]), torch.tensor([2, 1]))
        axes |= {"positions": ["batch", "time"], "sentence_lengths": ["batch"]}
    if model.memory:
        example += (torch.tensor([[0, 1, 0], [0, 1, 0]]),)
        axes["spellings"] = axes["word_ids"]
    inputs = graph_inputs(windows, model.memory)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes on Python values read from tensors
            torch.onnx.export(
                graph, example, str(path), dynamo=False, opset_version=opset, input_names=list(inputs),
                output_names=list(OUTPUTS), dynamic_axes={name: dict(enumerate(dims)) for name, dims in axes.items()},
            )
    except (ImportError, ModuleNotFoundError) as error:
        raise BirnnTagError(f"exporting needs the onnx package: pip install 'birnn-tag[export]' ({first_line(error)})") from None
    except (RuntimeError, ValueError) as error:
        raise BirnnTagError(f"--opset {opset}: the ONNX exporter failed: {first_line(error)}") from None


def model_card(loaded: LoadedModel, metadata: dict) -> str:
    """The export folder's README: what the model tags, how it was trained, its scores."""
    config = loaded.config
    model = config.model
    scores = [f"- {split}: {row['headline']} {100 * row['score']:.2f}" for split, row in metadata["metrics"].items()]
    embeddings = f"pretrained vectors `{Path(model.embeddings).name}`" if model.embeddings else "random word embeddings"
    lines = [
        f"# birnn-tag export of `{loaded.path}`",
        "",
        f"A {model.num_layers}-layer Bi{model.cell.upper()} ({model.hidden_size} units per direction) with a {model.head} head, "
        f"{embeddings} ({model.word_dim}-d), character encoder `{model.char_encoder}`, casing feature "
        f"{model.casing_dim or 'off'}; trained by birnn-tag {metadata['birnn_tag_version']} on `{config.data.train}` "
        f"({config.training.optimizer}, lr {config.training.lr}, up to {config.training.epochs} epochs).",
        "",
        f"- scheme: {config.data.scheme}; labels ({len(metadata['labels'])}): {', '.join(metadata['labels'])}",
        f"- sentences longer than {config.data.max_length} tokens are tagged in pieces",
        f"- {_precision_line(metadata)}",
        *(scores or ["- scores: none found next to the checkpoint"]),
        "",
        "Run it with `birnn-tag predict THIS_FOLDER input.txt` (needs only onnxruntime and numpy) or",
        "`birnn_tag.load(\"THIS_FOLDER\").tag([...])`. `model.onnx` takes int64 inputs, those the model uses:",
        "`word_ids` and `casing_ids` (batch, time), `char_ids` (spellings, chars: the batch's distinct",
        "spellings, row 0 all zeros), `spelling_ids` (batch, time: each token's row of `char_ids`) and",
        "`lengths` (batch), padded with 0; it returns `tag_ids`, `confidences` (the chosen tag's",
        "probability, or CRF marginal) and `emissions`. `config.yaml` and `vocab.json` say how tokens become ids.",
        *_window_lines(config.model.document_context, config.model.document_memory),
        "",
    ]
    return "\n".join(lines)


def _window_lines(size: int, memory: bool) -> list[str]:
    if not size:
        return []
    return [
        "",
        f"The model reads document context: each sentence with up to {size} tokens of its document on each",
        "side (its window). The ids above are the windows'; `positions` (batch, time) gives each sentence",
        "token's place in its window and `sentence_lengths` (batch) the sentences' lengths; the outputs are the sentences'.",
        *(["`spellings` (batch, window time): each window token's position of the first token spelled the same up to case."] if memory else []),
    ]


def _precision_line(metadata: dict) -> str:
    nodes = metadata.get("quantized_nodes")
    if nodes is None:
        return "weights in fp32, as trained"
    listed = ", ".join(f"{op} ×{count}" for op, count in nodes.items()) or "none"
    return (
        f"weights in {metadata['precision']} (onnxruntime's dynamic quantization; nodes quantized: {listed}): "
        "tags may differ from the run's in a few places"
    )


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """``export --check``: sentences compared, tag differences, largest emission and confidence gaps."""

    sentences: int
    differing_tags: int
    emission_gap: float
    confidence_gap: float

    @property
    def passed(self) -> bool:
        return (
            self.differing_tags == 0
            and self.emission_gap <= EMISSION_TOLERANCE
            and self.confidence_gap <= CONFIDENCE_TOLERANCE
        )

    def summary(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"check {verdict}: {self.sentences:,} sentences, {self.differing_tags} with different tags; "
            f"largest gaps: emissions {self.emission_gap:.2e} (tolerance {EMISSION_TOLERANCE:g}), "
            f"confidences {self.confidence_gap:.2e} (tolerance {CONFIDENCE_TOLERANCE:g})"
        )


def check_export(loaded: LoadedModel, folder: str | Path, sentences: list[list[str]], batch_size: int = 256) -> CheckResult:
    """Tag ``sentences`` with PyTorch (fp32, the reference) and with the export's onnxruntime;
    compare tags, confidences, and the emissions of the pieces the graph sees."""
    exported = OnnxTaggingModel(folder)
    reference = TaggingModel(loaded, torch.device("cpu"), "fp32")
    expected = reference.tag_tokens(sentences, batch_size=batch_size)
    got = exported.tag_tokens(sentences, batch_size=batch_size)
    differing = sum(a.tags != b.tags for a, b in zip(expected, got))
    confidence_gap = max(
        (abs(x - y) for a, b in zip(expected, got) for x, y in zip(a.confidences, b.confidences)), default=0.0
    )
    emission_gap = 0.0
    model = loaded.model.eval()
    pieces = [piece for tokens in sentences for piece in cut_tokens(tokens, loaded.config.data.max_length)]
    for start in range(0, len(pieces), batch_size):
        batch = pieces[start : start + batch_size]
        _, _, emissions = exported.run(batch)
        emission_gap = max(emission_gap, _emission_gap(model, reference, batch, emissions))
    return CheckResult(len(sentences), differing, emission_gap, confidence_gap)


@torch.inference_mode()
def _emission_gap(model: Tagger, reference: TaggingModel, pieces: list[list[str]], exported) -> float:
    """Largest difference between PyTorch's emissions of ``pieces`` and the export's (real
    positions), each piece read alone (in a window of its own, for a model with document context)."""
    contexts = [([], [])] * len(pieces) if reference.config.model.document_context else None
    encoded = TokenEncoder(reference.vocabs, reference.config.encoding).encode_sentences(pieces, contexts=contexts)
    batch = collate(encoded, list(range(len(encoded))))
    emissions = model.head(model.features(batch).float())  # (batch, time, num_tags)
    gap = (emissions - torch.from_numpy(exported)).abs().masked_fill(~batch.mask[:, :, None], 0.0)
    return float(gap.max()) if gap.numel() else 0.0
