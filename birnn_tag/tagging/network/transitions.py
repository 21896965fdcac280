"""Which tag-to-tag moves a tag scheme allows, as boolean masks over label indices.

The CRF never parses labels: it sees only these masks, indexed ``[from, to]`` like its
transition scores. A move the scheme forbids (``O → I-PER`` in IOB2) is a ``False`` entry.
"""

from __future__ import annotations

import torch

from birnn_tag.tagging.data.schemes import TRAINING_SCHEMES, check_tag, split_tag


def allowed_transitions(
    scheme: str, labels: list[str]
) -> tuple[torch.BoolTensor, torch.BoolTensor, torch.BoolTensor]:
    """Masks of the moves ``scheme`` allows between ``labels`` (indexed as in ``labels``).

    Args:
        scheme: ``"IOB2"`` or ``"BIOES"``.
        labels: the tag vocabulary, e.g. ``["O", "B-PER", "I-PER"]``.

    Returns:
        ``(transitions, start, end)``: ``transitions`` (num_tags, num_tags) is True where tag
        ``[from]`` may be followed by tag ``[to]``; ``start`` / ``end`` (num_tags,) are True for
        the tags a sentence may begin / finish with.

    Raises:
        ValueError: for an unknown scheme, or a label that is malformed or uses a prefix the
            scheme does not have (``E-PER`` in IOB2).
    """
    if scheme not in TRAINING_SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(TRAINING_SCHEMES)}")
    for label in labels:
        check_tag(label, scheme)
    parsed = [split_tag(label) for label in labels]  # [(prefix, type or None)]
    follows = _follows_iob2 if scheme == "IOB2" else _follows_bioes
    transitions = torch.tensor(
        [[follows(before, after) for after in parsed] for before in parsed], dtype=torch.bool
    ).reshape(len(labels), len(labels))  # (num_tags, num_tags) [from, to]; reshape keeps (0, 0) for no labels
    # IOB2: an entity opens with B-, so no sentence starts inside one; any tag may end it.
    # BIOES: a sentence starts outside an entity or at its first token (O, B-, S-) and ends
    # outside one or at its last token (O, E-, S-).
    start = torch.tensor([prefix in ("O", "B", "S") for prefix, _ in parsed], dtype=torch.bool)  # (num_tags,)
    end_prefixes = ("O", "B", "I") if scheme == "IOB2" else ("O", "E", "S")
    end = torch.tensor([prefix in end_prefixes for prefix, _ in parsed], dtype=torch.bool)  # (num_tags,)
    return transitions, start, end


def _follows_iob2(before: tuple[str, str | None], after: tuple[str, str | None]) -> bool:
    """IOB2: ``I-X`` only continues an ``X`` entity (after ``B-X`` or ``I-X``); O and B- go anywhere."""
    (_, before_type), (after_prefix, after_type) = before, after
    if after_prefix == "I":
        return before_type == after_type  # before is B-X / I-X (O has type None, never equal)
    return True


def _follows_bioes(before: tuple[str, str | None], after: tuple[str, str | None]) -> bool:
    """BIOES: inside an entity (after B-X / I-X) only ``I-X`` or ``E-X``; outside it only O, B-, S-.

    ::

        B-X ─► I-X ─► E-X          S-X, E-X, O ─► O | B-* | S-*
          └─────────► ┘
    """
    (before_prefix, before_type), (after_prefix, after_type) = before, after
    if before_prefix in ("B", "I"):  # an open entity must continue or close with the same type
        return after_prefix in ("I", "E") and after_type == before_type
    return after_prefix in ("O", "B", "S")  # after O, E-X or S-X: nothing is open
