"""A trained PyTorch tagger as the public API sees it: tag text or tokens, stream large inputs,
score a split or a file; it knows its device and precision, so callers never pass them again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from birnn_tag.data.encoding import TokenEncoder
from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.errors import BirnnTagError
from birnn_tag.runtime.precision import PRECISIONS, resolve_precision
from birnn_tag.runs.folder import report_scores, run_folder_of
from birnn_tag.tagging.network.crf import CRFHead
from birnn_tag.tagging.prediction.decoding import torch_decoder, torch_k_best
from birnn_tag.tagging.prediction.streaming import Decode, KBest
from birnn_tag.tagging.public.base import TaggingBase

if TYPE_CHECKING:  # scoring imports seqeval and datasets, which `predict` never needs
    from birnn_tag.tagging.scoring.evaluation import Report


class TaggingModel(TaggingBase):
    """A sequence tagger loaded by :func:`birnn_tag.load` from a run folder or checkpoint.

    ``precision`` (``fp32``, ``bf16`` or ``auto``) applies to tagging and scoring; None is the
    run's ``training.eval_precision``.
    """

    def __init__(self, loaded: LoadedModel, device: torch.device, precision: str | None = None) -> None:
        if precision is not None and precision not in PRECISIONS:
            raise BirnnTagError(f"precision: unknown value {precision!r}; expected one of {', '.join(PRECISIONS)}")
        super().__init__(loaded.config, loaded.vocabs)
        self.loaded, self.device = loaded, device
        # One encoder for every call: its cache of each distinct token's ids then serves the
        # API's and the service's later calls too, instead of starting empty on each.
        self.encoder = TokenEncoder(loaded.vocabs, loaded.config.encoding)
        self.precision = precision or loaded.config.training.eval_precision
        # Refused here, at load, rather than on the first batch (bf16 on a CPU that cannot run it).
        resolve_precision(self.precision, device, "precision" if precision else "training.eval_precision")

    def describe(self) -> dict[str, Any]:
        """:meth:`TaggingBase.describe` plus the backend, the checkpoint and the run's scores."""
        source = {"backend": "pytorch", "source": str(self.loaded.path)}
        return super().describe() | source | {"metrics": report_scores(run_folder_of(self.loaded.path))}

    def decoder(self, batch_size: int) -> Decode:
        """PyTorch tagging on the model's device and precision."""
        return torch_decoder(self.loaded, self.encoder, batch_size, self.device, self.precision)

    @property
    def scores_sequences(self) -> bool:
        """Whether the head is a CRF, whose k best sequences have probabilities."""
        return isinstance(self.loaded.model.head, CRFHead)

    def k_best_decoder(self, batch_size: int, k: int) -> KBest:
        """The CRF's k best sequences; a softmax head, which scores tokens and not sequences, has none."""
        if not isinstance(self.loaded.model.head, CRFHead):
            raise BirnnTagError("--k-best: needs a CRF head (model.head: crf); this run's head is softmax")
        return torch_k_best(self.loaded, self.encoder, batch_size, k, self.device, self.precision)

    def evaluate(self, source: str | Path = "test") -> Report:
        """Scores on a split of the run's data (``source`` a name: ``"test"``, ``"validation"``...)
        or on a file read like it (``source`` a ``Path``): entity scores (seqeval strict mode) for
        span schemes, token accuracy and per-label scores for runs without spans (``data.scheme:
        none``); the report's ``score`` is the headline number."""
        from birnn_tag.tagging.scoring.evaluation import evaluate_checkpoint

        split, data_file = (source, None) if isinstance(source, str) else ("test", str(source))
        return evaluate_checkpoint(self.loaded, split=split, data_file=data_file, device=self.device, precision=self.precision)
