"""The Viterbi search over tag scores, shared by the CRF head and constrained softmax decoding,
and the masks that keep the moves a tag scheme forbids out of it.

:func:`viterbi` compiles with ``torch.jit.script`` (no tensor unpacking, no reversed lists), so
an exported model runs it as an ONNX loop over any length (:mod:`~birnn_tag.tagging.onnx.export`).
Scores are indexed as in :mod:`~birnn_tag.tagging.network.crf`: transitions ``[from, to]``,
batches padded on the right with ``mask`` True on each sentence's first ``length >= 1`` positions.
"""

from __future__ import annotations

import torch

DISALLOWED = -1e4  # the score of a forbidden move; not -inf, which would make gradients NaN


def allow_all(num_tags: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transition (num_tags, num_tags), start and end (num_tags,) masks that allow every move."""
    return (
        torch.ones(num_tags, num_tags, dtype=torch.bool),
        torch.ones(num_tags, dtype=torch.bool),
        torch.ones(num_tags, dtype=torch.bool),
    )


def mask_scores(scores: torch.Tensor, allowed: torch.Tensor, fill: float = DISALLOWED) -> torch.Tensor:
    """``scores`` with every entry where ``allowed`` is False replaced by ``fill`` (same shapes).

    The softmax head builds its constraint scores as ``mask_scores(zeros, allowed)``.
    """
    return scores.masked_fill(~allowed, fill)


def viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best-scoring path of every sentence in a batch.

    Args:
        emissions: (batch, time, num_tags) per-token tag scores.
        mask: (batch, time) bool, True on real tokens (left-aligned, every length >= 1).
        transitions: (num_tags, num_tags) move scores ``[from, to]``; ``start`` / ``end``
            (num_tags,) scores of the first / last tag. Forbidden moves score :data:`DISALLOWED`.

    Returns:
        ``best_tags`` (batch, time) long, 0 on padding, and ``best_scores`` (batch,), the paths'
        scores, in the wider of the emissions' and the scores' dtypes.
    """
    score = start + emissions[:, 0]  # (batch, num_tags): best path ending in each tag so far
    backpointers = []  # one (batch, num_tags) per t >= 1: best tag at t - 1 for each tag at t
    for t in range(1, emissions.shape[1]):
        candidates = score.unsqueeze(2) + transitions  # (batch, num_tags [from], num_tags [to])
        best_previous_score, best_previous = candidates.max(dim=1)  # (batch, num_tags) each
        step = best_previous_score + emissions[:, t]  # (batch, num_tags)
        score = torch.where(mask[:, t, None], step, score)  # (batch, num_tags): padding keeps its state
        backpointers.append(best_previous)
    best_scores, last_tags = (score + end).max(dim=1)  # (batch,) each
    best_tags = _backtrack(last_tags.unsqueeze(1), backpointers, mask)  # (batch, 1, time)
    return best_tags.squeeze(1), best_scores  # (batch, time), (batch,)


def k_best_viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best paths of every sentence, best first (list Viterbi).

    Keeps the ``k`` best partial paths ending in each tag: a state is a pair (tag, rank),
    numbered ``tag * k + rank``. Arguments as :func:`viterbi`; scores may also be ``-inf``, and a
    path through a ``-inf`` move is never returned. A sentence with fewer than ``k`` paths gets
    the missing ones as score ``-inf`` and tags 0.

    Returns:
        ``tag_ids`` (batch, k, time) long, 0 on padding, and ``scores`` (batch, k), descending.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    batch, time, num_tags = emissions.shape
    first = start + emissions[:, 0]  # (batch, num_tags)
    empty = first.new_full((batch, num_tags, k - 1), float("-inf"))  # (batch, num_tags, k - 1): no path yet
    score = torch.cat([first.unsqueeze(2), empty], dim=2)  # (batch, num_tags, k): k best ending in each tag
    backpointers = []  # one (batch, num_tags * k) per t >= 1: previous state of each state at t
    for t in range(1, time):
        candidates = score.unsqueeze(2) + transitions[:, :, None]  # (batch, from, to, k)
        candidates = candidates.transpose(1, 2).reshape(batch, num_tags, num_tags * k)  # (batch, to, from * k + rank)
        best, previous = candidates.topk(k, dim=2)  # (batch, num_tags, k) each, best first
        step = best + emissions[:, t, :, None]  # (batch, num_tags, k)
        score = torch.where(mask[:, t, None, None], step, score)  # (batch, num_tags, k): padding keeps its state
        backpointers.append(previous.reshape(batch, num_tags * k))  # (batch, num_tags * k)
    final = (score + end[:, None]).reshape(batch, num_tags * k)  # (batch, num_tags * k)
    scores, last_states = final.topk(k, dim=1)  # (batch, k) each, best first
    states = _backtrack(last_states, backpointers, mask)  # (batch, k, time)
    tag_ids = (states // k).masked_fill(scores.isneginf().unsqueeze(2), 0)  # (batch, k, time)
    return tag_ids, scores


def _backtrack(last_states: torch.Tensor, backpointers: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Follow backpointers from each sentence's last real token back to its first.

    ``last_states`` (batch, paths) are the states at the last real token; ``backpointers[t - 1]``
    (batch, states) holds, for each state at ``t``, the state at ``t - 1`` on its best path. At a
    padding position the walk stands still, so it starts moving at the sentence's own end::

        t        0   1   2   3 (pad)
        state    s0 ◄ s1 ◄ s2   s2     s1 = backpointers[1][s2], s0 = backpointers[0][s1]

    Returns the states (batch, paths, time), 0 on padding.
    """
    states = []  # filled from the last position back
    current = last_states  # (batch, paths)
    for t in range(mask.shape[1] - 1, -1, -1):
        states.append(current.masked_fill(~mask[:, t, None], 0))  # (batch, paths)
        if t > 0:
            previous = backpointers[t - 1].gather(1, current)  # (batch, paths)
            current = torch.where(mask[:, t, None], previous, current)  # (batch, paths)
    # Stacked, then flipped: a reversed list does not export to ONNX (tagging/export).
    return torch.stack(states, dim=2).flip(2)  # (batch, paths, time)
