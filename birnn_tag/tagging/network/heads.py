"""Output heads: map encoder features to tag scores, a training loss and decoded tags.

A head is a pluggable component with ``loss(features, tag_ids, mask)`` and
``decode(features, mask)``; the tagger never knows which one it has. The CRF head lives in
:mod:`birnn_tag.tagging.network.crf`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from birnn_tag.data.encoding import MISSING_ID
from birnn_tag.tagging.network.viterbi import allow_all, mask_scores, viterbi


class Calibrated(nn.Module):
    """A head whose confidences are computed at a ``temperature`` (temperature scaling, Guo et
    al. 2017): all its scores divided by it. Tags never change (a path's rank, a token's best tag
    do not depend on it); :mod:`~birnn_tag.tagging.scoring.calibration` fits it after training.

    The temperature is a buffer, saved with the weights; checkpoints written before it existed
    load with 1.0.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("temperature", torch.ones(()))
        self.register_load_state_dict_pre_hook(_default_temperature)


def _default_temperature(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    state_dict.setdefault(prefix + "temperature", torch.ones(()))


class SoftmaxHead(Calibrated):
    """Independent per-token softmax over tags, trained with masked cross-entropy.

    With ``allowed`` masks (from :func:`~birnn_tag.tagging.network.transitions.allowed_transitions`),
    decoding is a Viterbi search over the per-token log-probabilities restricted to the moves the
    tag scheme allows, so the output is always a valid tag sequence.
    """

    def __init__(
        self, input_dim: int, num_tags: int, allowed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    ) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, num_tags)
        self.constrained = allowed is not None
        if allowed is None:
            allowed = allow_all(num_tags)
        # 0 for allowed moves, a large negative score for forbidden ones; not learned.
        for name, mask in zip(("transitions", "start", "end"), allowed):
            self.register_buffer(f"{name}_scores", mask_scores(torch.zeros(mask.shape), mask))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (batch, time, input_dim) → tag logits (batch, time, num_tags)."""
        return self.projection(features)

    def loss(self, features: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each sentence's tags, averaged over the sentences.

        Summing over a sentence's tokens (as a CRF's sentence NLL does) keeps the gradient scale,
        and so the learning rate, the same for both heads and independent of sentence length.
        """
        if features.is_cuda:
            # Picking out the real tokens sizes a tensor by the data, which makes the host wait for
            # a GPU: there padding is scored too and left out as a missing tag is.
            logits = self(features).transpose(1, 2)  # (batch, num_tags, time)
            targets = tag_ids.masked_fill(~mask, MISSING_ID)  # (batch, time)
            return F.cross_entropy(logits, targets, reduction="sum", ignore_index=MISSING_ID) / mask.shape[0]
        logits = self(features[mask])  # (tokens, num_tags): padding never reaches the loss
        # A missing tag (data.missing_tag) is left out: the model says what it is.
        return F.cross_entropy(logits, tag_ids[mask], reduction="sum", ignore_index=MISSING_ID) / mask.shape[0]

    def soft_loss(
        self, features: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, tag_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`loss` with each token's tag drawn from ``targets`` (batch, time, num_tags): the
        expected negative log-likelihood, summed per sentence and averaged over the sentences.
        Tokens are scored alone, so the gold ``tag_ids`` (which a CRF's moves read) add nothing."""
        if features.is_cuda:  # every position, padding's targets zeroed: as in :meth:`loss`
            log_probs = self(features).log_softmax(dim=-1)  # (batch, time, num_tags)
            return -(targets.masked_fill(~mask.unsqueeze(2), 0.0) * log_probs).sum() / mask.shape[0]
        log_probs = self(features[mask]).log_softmax(dim=-1)  # (tokens, num_tags)
        return -(targets[mask] * log_probs).sum() / mask.shape[0]

    def calibrated_marginals(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(tag at t) (batch, time, num_tags) at the head's temperature; 0 on padding."""
        return (logits / self.temperature).softmax(dim=-1).masked_fill(~mask.unsqueeze(2), 0.0)

    def sequence_nll(
        self, logits: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor, temperature: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Each sentence's negative log-likelihood (batch,) of ``tag_ids`` at ``temperature``."""
        nll = F.cross_entropy((logits / temperature).transpose(1, 2), tag_ids.masked_fill(~mask, 0), reduction="none")
        return nll.masked_fill(~mask, 0.0).sum(dim=1)  # (batch,)

    def decode(
        self, features: torch.Tensor, mask: torch.Tensor, confidences: bool = True, *, search: Callable = viterbi
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Best tags (batch, time) and, if asked, each chosen tag's probability at the head's
        temperature (batch, time); padding is 0.

        ``search``: :func:`~birnn_tag.tagging.network.viterbi.viterbi` or its TorchScript compilation (an export's).
        """
        logits = self(features)  # (batch, time, num_tags)
        log_probs = logits.log_softmax(dim=-1)  # (batch, time, num_tags)
        if self.constrained:
            tag_ids, _ = search(log_probs, mask, self.transitions_scores, self.start_scores, self.end_scores)
        else:
            tag_ids = log_probs.argmax(dim=-1)  # (batch, time)
        tag_ids = tag_ids.masked_fill(~mask, 0)  # (batch, time)
        if not confidences:
            return tag_ids, None
        calibrated = (logits / self.temperature).log_softmax(dim=-1)  # (batch, time, num_tags)
        confidence = calibrated.gather(2, tag_ids.unsqueeze(2)).squeeze(2).exp()  # (batch, time)
        return tag_ids, confidence.masked_fill(~mask, 0.0)
