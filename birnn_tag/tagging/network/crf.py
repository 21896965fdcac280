"""Linear-chain CRF output head: its loss, Viterbi decoding (:mod:`~birnn_tag.tagging.network.viterbi`), k best paths and marginals.

:func:`marginals` compiles with ``torch.jit.script`` (no tensor unpacking, no
reversed lists), so an exported model runs it as an ONNX loop over any length (:mod:`~birnn_tag.tagging.onnx.export`).

A path ``y_1 … y_n`` through a sentence of ``n`` tokens scores

    start[y_1] + Σ_t emissions[t, y_t] + Σ_{t>1} transitions[y_{t-1}, y_t] + end[y_n]

(transition scores are indexed ``[from, to]``) and the CRF gives it probability
``exp(score - log Z)``, where ``Z`` sums ``exp(score)`` over all paths. Moves a tag scheme forbids
get the score :data:`DISALLOWED`: finite, so gradients stay finite, but low enough that no
decoded path uses one while an allowed path exists.

Batches are padded on the right: ``mask`` (batch, time) is True on each sentence's first
``length >= 1`` positions. Every recursion runs over time for the whole batch at once; at a
padding position a sentence keeps its previous state, so its state at the end of the loop is
the one at its last real token::

    mask    1   1   1   0   0
    alpha   a0  a1  a2  a2  a2     → alpha[:, -1] is a2 for this sentence
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from birnn_tag.tagging.network.heads import Calibrated
from birnn_tag.tagging.network.viterbi import DISALLOWED, allow_all, k_best_viterbi, mask_scores, viterbi


def _forward_scores(
    emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor
) -> torch.Tensor:
    """Log-sum of the scores of all partial paths from the start to each (position, tag): (batch, time, num_tags)."""
    alpha = start + emissions[:, 0]  # (batch, num_tags)
    alphas = [alpha]
    for t in range(1, emissions.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]  # (batch, num_tags)
        alpha = torch.where(mask[:, t, None], step, alpha)  # (batch, num_tags): padding keeps its state
        alphas.append(alpha)
    return torch.stack(alphas, dim=1)  # (batch, time, num_tags)


def _forward_backward_scores(
    emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_forward_scores` and the backward scores, each (batch, time, num_tags), for
    marginals (no gradient needed), each up to a constant per sentence and position (the states
    are renormalised at every step): only their sum's softmax over tags is meaningful.

    The backward score at (t, tag) is the log-sum of the scores of all partial paths from there
    to the end, the tag's own score left out; at a sentence's last token (and on padding) only
    the end score remains. Both recursions are one step form, ``logsumexp(state[from] +
    moves[from, to])`` (backward with the transposed moves), so each time step runs them as one
    stacked operation. With the states and the moves each shifted by their maximum, that step is
    ``log(exp(state) @ exp(moves))``: a product of small matrices and ``batch × num_tags``
    exponentials instead of ``batch × num_tags²``, which dominated the marginals' cost. A tag
    whose share underflows gets probability 0 instead of one below 1e-38.
    """
    batch, time, num_tags = emissions.shape
    moves = torch.stack([transitions, transitions.t()])  # (2, num_tags, num_tags) [from, to]
    top = moves.amax(dim=(1, 2), keepdim=True)  # (2, 1, 1)
    weights = (moves - top).exp()  # (2, num_tags, num_tags): forbidden moves are 0
    alpha = start + emissions[:, 0]  # (batch, num_tags)
    beta = end.to(alpha.dtype).expand(batch, num_tags)  # (batch, num_tags)
    alphas, betas = [alpha], [beta]
    for step in range(1, time):
        t = time - 1 - step  # backward position: beta at t from beta at t + 1
        states = torch.stack([alpha, emissions[:, t + 1] + beta])  # (2, batch, num_tags)
        shift = states.amax(dim=2, keepdim=True)  # (2, batch, 1)
        steps = torch.bmm((states - shift).exp(), weights).log() + shift + top  # (2, batch, num_tags)
        forward, backward = steps[0], steps[1]  # (batch, num_tags) each; indexed, as TorchScript unpacks no tensors
        alpha = torch.where(mask[:, step, None], forward + emissions[:, step], alpha)  # padding keeps its state
        beta = torch.where(mask[:, t + 1, None], backward, beta)  # t + 1 on padding → t is last
        # Renormalised so each state's largest entry is 0: the states stay O(1) at any length
        # instead of growing like log Z, whose rounding error would swamp the probabilities.
        alpha = alpha - alpha.amax(dim=1, keepdim=True)
        beta = beta - beta.amax(dim=1, keepdim=True)
        alphas.append(alpha)
        betas.append(beta)
    return torch.stack(alphas, dim=1), torch.stack(betas, dim=1).flip(1)  # (batch, time, num_tags) each


def marginals(
    emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor
) -> torch.Tensor:
    """P(tag at t | sentence) (batch, time, num_tags) by forward-backward, 0 on padding; arguments
    as :func:`viterbi`; in the emissions' dtype.

    The recursion runs in float64 on renormalised states, and each position's probabilities are
    a softmax over its tags (log Z cancels). In float32 on raw log-scores a probability's error
    grew like |log Z| × 6e-8 (0.11 at 1,000 tokens), and rounding in the batched matrix products
    made a sentence's confidences depend on its batch neighbours; now they are exact to float32
    at any length and the same in any batch.
    """
    alphas, betas = _forward_backward_scores(
        emissions.double(), mask, transitions.double(), start.double(), end.double()
    )  # (batch, time, num_tags) each, float64
    probabilities = torch.softmax(alphas + betas, dim=2).to(emissions.dtype)  # (batch, time, num_tags)
    return probabilities.masked_fill(~mask.unsqueeze(2), 0.0)  # (batch, time, num_tags)


def _known_tags_only(emissions: torch.Tensor, tag_ids: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """``emissions`` (batch, time, num_tags) with every tag but the known one :data:`DISALLOWED`
    where a token's tag is known; ``missing`` (batch, time) marks the tokens whose tag is not."""
    allowed = F.one_hot(tag_ids.clamp(min=0), emissions.shape[-1]).bool() | missing.unsqueeze(2)  # (batch, time, num_tags)
    return emissions.masked_fill(~allowed, DISALLOWED)  # (batch, time, num_tags)


class CRFHead(Calibrated):
    """Linear-chain CRF over tag emissions, trained with the sentence negative log-likelihood.

    Same interface as :class:`~birnn_tag.tagging.network.heads.SoftmaxHead`; ``allowed`` (from
    :func:`~birnn_tag.tagging.network.transitions.allowed_transitions`) keeps the moves a tag scheme
    forbids at :data:`DISALLOWED` in training and decoding alike.
    """

    def __init__(
        self,
        input_dim: int,
        num_tags: int,
        allowed: tuple[torch.BoolTensor, torch.BoolTensor, torch.BoolTensor] | None = None,
    ) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, num_tags)
        # Zero scores: no preference between moves until training finds one.
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (num_tags, num_tags) [from, to]
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))  # (num_tags,)
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))  # (num_tags,)
        if allowed is None:  # every move allowed: masking is then a no-op
            allowed = allow_all(num_tags)
        expected = ((num_tags, num_tags), (num_tags,), (num_tags,))
        if tuple(tuple(mask.shape) for mask in allowed) != expected:
            got = [tuple(mask.shape) for mask in allowed]
            raise ValueError(f"allowed masks for {num_tags} tags must have shapes {list(expected)}, got {got}")
        # Buffers: saved with the weights and moved to the module's device along with them.
        self.register_buffer("allowed_transitions", allowed[0].to(torch.bool).clone())  # (num_tags, num_tags)
        self.register_buffer("allowed_start", allowed[1].to(torch.bool).clone())  # (num_tags,)
        self.register_buffer("allowed_end", allowed[2].to(torch.bool).clone())  # (num_tags,)

    def scores(self, fill: float = DISALLOWED) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Transition (num_tags, num_tags), start and end (num_tags,) scores, forbidden ones at ``fill``.

        Masking on every use (not only at initialisation) keeps forbidden scores fixed and
        without gradient, whatever the optimiser does to the underlying parameters.
        """
        return (
            mask_scores(self.transitions, self.allowed_transitions, fill),  # (num_tags, num_tags)
            mask_scores(self.start_transitions, self.allowed_start, fill),  # (num_tags,)
            mask_scores(self.end_transitions, self.allowed_end, fill),  # (num_tags,)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (batch, time, input_dim) → emissions (batch, time, num_tags)."""
        return self.projection(features)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor, temperature: float | torch.Tensor = 1.0) -> torch.Tensor:
        """log Z of each sentence (batch,) by the forward algorithm; emissions (batch, time,
        num_tags), every score divided by ``temperature``."""
        transitions, start, end = (score / temperature for score in self.scores())
        alphas = _forward_scores(emissions / temperature, mask, transitions, start)  # (batch, time, num_tags)
        return torch.logsumexp(alphas[:, -1] + end, dim=1)  # (batch,): alphas[:, -1] is at each last token

    def path_scores(
        self, emissions: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor, temperature: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Score (batch,) of each sentence's path ``tag_ids`` (batch, time), every score divided by
        ``temperature``; padding ids are ignored."""
        transitions, start, end = (score / temperature for score in self.scores())
        emissions = emissions / temperature
        tag_ids = tag_ids.masked_fill(~mask, 0)  # (batch, time): any padding id indexes safely
        emitted = emissions.gather(2, tag_ids.unsqueeze(2)).squeeze(2)  # (batch, time)
        moved = transitions[tag_ids[:, :-1], tag_ids[:, 1:]]  # (batch, time - 1): move into position t
        last_tags = tag_ids.gather(1, mask.sum(dim=1, keepdim=True) - 1).squeeze(1)  # (batch,)
        return (
            start[tag_ids[:, 0]]  # (batch,)
            + emitted.masked_fill(~mask, 0.0).sum(dim=1)  # (batch,)
            + moved.masked_fill(~mask[:, 1:], 0.0).sum(dim=1)  # (batch,)
            + end[last_tags]  # (batch,)
        )

    def loss(self, features: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sentence negative log-likelihoods summed over the batch and divided by its size (a scalar).

        The same scale as :meth:`SoftmaxHead.loss`, so both heads train with the same learning rate.
        """
        return self.sequence_nll(self(features), tag_ids, mask).sum() / mask.shape[0]

    def sequence_nll(
        self, emissions: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor, temperature: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Each sentence's negative log-likelihood (batch,) of ``tag_ids`` at ``temperature``.

        Where tags are missing (negative ids, ``data.missing_tag``) it is that of every path
        through the known ones: log Z less the log-sum of the paths that agree with the known tags
        (the forward algorithm with the other tags' emissions disallowed where a tag is known).
        """
        missing = (tag_ids < 0) & mask  # (batch, time)
        if emissions.is_cuda:
            # Whether a tag is missing is known on the device only, and asking would make the host
            # wait for it: both forms are computed and the one the question picks is kept, the two
            # forward passes run as one over a batch twice the size (one pass's kernel launches).
            # The path's score is then computed with missing tags too: as tag 0, then dropped.
            both = torch.cat([emissions, _known_tags_only(emissions, tag_ids, missing)])  # (2 * batch, time, num_tags)
            log_z, known = self.log_partition(both, torch.cat([mask, mask]), temperature).chunk(2)  # (batch,) each
            path = self.path_scores(emissions, tag_ids.clamp(min=0), mask, temperature)  # (batch,)
            return torch.where(missing.any(), log_z - known, log_z - path)  # (batch,)
        log_z = self.log_partition(emissions, mask, temperature)
        if not missing.any():
            return log_z - self.path_scores(emissions, tag_ids, mask, temperature)
        return log_z - self.log_partition(_known_tags_only(emissions, tag_ids, missing), mask, temperature)

    def soft_loss(
        self, features: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, tag_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`loss` with each token's tag drawn from ``targets`` (batch, time, num_tags):
        ``log Z`` less the path score's expectation. The emissions are weighted by the targets
        (the gradient on them is the model's marginals less the targets); the moves, the start
        and the end by the gold tags (batch, time) ``tag_ids`` where both tokens of a move have
        one, else by the product of the two tokens' targets, which are independent of each other
        (a product of two uncertain tokens' targets would weigh moves no teacher makes). For
        one-hot targets of the gold tags it is the gold loss. Forbidden moves are left out of the
        expectation (their scores are fixed)."""
        emissions = self(features)  # (batch, time, num_tags)
        targets = targets.masked_fill(~mask.unsqueeze(2), 0.0)
        ends = targets  # (batch, time, num_tags): what the moves, start and end are weighted by
        if tag_ids is not None:
            known = (tag_ids >= 0) & mask  # (batch, time)
            gold = F.one_hot(tag_ids.clamp(min=0), targets.shape[2]).to(targets.dtype)
            ends = torch.where(known.unsqueeze(2), gold, targets)
            both = (known[:, :-1] & known[:, 1:])[:, :, None, None]  # (batch, time - 1, 1, 1)
            moves = torch.where(both, ends[:, :-1, :, None] * ends[:, 1:, None, :], targets[:, :-1, :, None] * targets[:, 1:, None, :])
        else:
            moves = targets[:, :-1, :, None] * targets[:, 1:, None, :]  # (batch, time - 1, num_tags, num_tags)
        transitions, start, end = self.scores(fill=0.0)
        last = ends.gather(1, (mask.sum(dim=1) - 1).clamp(min=0)[:, None, None].expand(-1, 1, targets.shape[2])).squeeze(1)
        expected = (
            ends[:, 0] @ start  # (batch,)
            + (targets * emissions).sum(dim=(1, 2))
            + (moves * transitions).sum(dim=(1, 2, 3))  # padding targets are 0
            + last @ end
        )
        return (self.log_partition(emissions, mask) - expected).sum() / mask.shape[0]

    def calibrated_marginals(self, emissions: torch.Tensor, mask: torch.Tensor, forward_backward: Callable = marginals) -> torch.Tensor:
        """P(tag at t | sentence) (batch, time, num_tags) at the head's temperature, by
        ``forward_backward`` (:func:`marginals` or its TorchScript compilation); 0 on padding."""
        calibrated = [score / self.temperature for score in self.scores()]
        return forward_backward(emissions / self.temperature, mask, *calibrated)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(tag at t | sentence) (batch, time, num_tags) by forward-backward; 0 on padding."""
        return marginals(emissions, mask, *self.scores())

    def decode(
        self,
        features: torch.Tensor,
        mask: torch.Tensor,
        confidences: bool = True,
        *,
        search: Callable = viterbi,
        forward_backward: Callable | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Viterbi tags (batch, time) and, if asked, each chosen tag's marginal probability at the
        head's temperature (batch, time); padding 0. The marginals cost a forward-backward pass:
        skip them when unused.

        ``search`` / ``forward_backward``: :func:`viterbi` / :func:`marginals` (None; the method of
        that name shadows it in the class body) or their TorchScript compilations (an export's).
        """
        emissions = self(features)  # (batch, time, num_tags)
        scores = self.scores()
        tag_ids, _ = search(emissions, mask, *scores)  # (batch, time)
        if not confidences:
            return tag_ids, None
        probabilities = self.calibrated_marginals(emissions, mask, forward_backward or marginals)  # 0 on padding
        chosen = probabilities.gather(2, tag_ids.unsqueeze(2)).squeeze(2)  # (batch, time)
        return tag_ids, chosen.clamp(max=1.0)  # exp(α + β − log Z) may round a hair above 1

    def k_best(self, features: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best paths: tag ids (batch, k, time) and scores (batch, k), best first.

        Forbidden moves count as ``-inf`` here, so a forbidden path is never listed: a sentence
        with fewer than ``k`` allowed paths gets the rest as score ``-inf`` and tags 0.
        """
        return k_best_viterbi(self(features), mask, *self.scores(fill=float("-inf")), k)

    def k_best_probabilities(self, features: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`k_best` with each path's log-probability ``(score - log Z) / T`` at the head's
        temperature (batch, k) instead of its score: ``-inf`` for a missing path (fewer than
        ``k`` allowed). Logarithms, as a long sentence's probabilities underflow."""
        emissions = self(features)  # (batch, time, num_tags)
        tag_ids, scores = k_best_viterbi(emissions, mask, *self.scores(fill=float("-inf")), k)
        log_z = self.log_partition(emissions, mask, self.temperature)  # (batch,)
        return tag_ids, scores / self.temperature - log_z[:, None]
