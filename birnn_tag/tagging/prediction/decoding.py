"""Run a tagger over encoded sentences in length-sorted batches; results come back in input order."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.data.batch_plans import batch_token_cap
from birnn_tag.data.batching import iterate_batches
from birnn_tag.data.document_context import Context
from birnn_tag.data.encoding import EncodedSentence, TokenEncoder
from birnn_tag.nn.modes import evaluating
from birnn_tag.runtime.precision import precision_autocast
from birnn_tag.tagging.network.tagger import Tagger
from birnn_tag.tagging.prediction.streaming import Decode, KBest


@torch.inference_mode()
def decode_sentences(
    model: Tagger,
    sentences: Sequence[EncodedSentence],
    batch_size: int,
    device: torch.device,
    confidences: bool = True,
    precision: str = "fp32",
) -> tuple[list[list[int]], list[list[float]] | None]:
    """Predicted tag ids and (if asked) confidences for every sentence, in the order given;
    ``precision`` is one of :data:`~birnn_tag.runtime.precision.PRECISIONS`.

    Batches hold up to :func:`~birnn_tag.data.batch_plans.batch_token_cap` padded tokens for the
    device (thousands of sentences on a GPU, given a ``batch_size`` that large). A batch's
    results come back to the host in one copy, the tag ids riding with the confidences (exact
    in float32), so that on a GPU the host waits for the device once per batch."""
    tag_ids: list[list[int]] = [[] for _ in sentences]
    scores: list[list[float]] | None = [[] for _ in sentences] if confidences else None
    # One autocast region for all batches: it keeps the weights' bf16 copies from batch to batch.
    with evaluating(model), precision_autocast(precision, device):
        for batch in iterate_batches(sentences, batch_size, batch_token_cap(device.type)):
            best, confidence = model.decode(batch.to(device), confidences)
            if confidence is not None and best.is_cuda:
                both = torch.stack([best.to(torch.float32), confidence.float()]).cpu()  # (2, batch, time)
                best, confidence = both[0].long(), both[1]
            best = best.cpu().tolist()
            confidence = confidence.cpu().tolist() if confidence is not None else None
            for row, (index, length) in enumerate(zip(batch.indices, batch.lengths.tolist())):
                tag_ids[index] = best[row][:length]
                if scores is not None:
                    scores[index] = confidence[row][:length]
    return tag_ids, scores


def torch_decoder(loaded: LoadedModel, encode: TokenEncoder, batch_size: int, device: torch.device, precision: str) -> Decode:
    """``predict``'s decode step for a PyTorch model: encode a group of token lists (in their
    document contexts, if given) with ``encode`` (the model's, whose token cache outlives a
    call), tag them with :func:`decode_sentences` on ``device`` at ``precision``."""

    def decode(
        pieces: list[list[str]], confidences: bool, contexts: list[Context] | None = None
    ) -> tuple[list[list[int]], list[list[float]] | None]:
        encoded = encode.encode_sentences(pieces, contexts=contexts)
        return decode_sentences(loaded.model, encoded, batch_size, device, confidences, precision)

    return decode


@torch.inference_mode()
def decode_k_best(
    model: Tagger, sentences: Sequence[EncodedSentence], batch_size: int, device: torch.device, k: int, precision: str = "fp32"
) -> list[list[tuple[list[int], float]]]:
    """Each sentence's ``k`` best tag id sequences with their probabilities, best first, in the
    order given; paths the scheme forbids are never listed (a sentence may get fewer than ``k``)."""
    best: list[list[tuple[list[int], float]]] = [[] for _ in sentences]
    with evaluating(model), precision_autocast(precision, device):
        for batch in iterate_batches(sentences, batch_size, batch_token_cap(device.type)):
            tag_ids, log_probabilities = model.k_best(batch.to(device), k)
            tag_ids, log_probabilities = tag_ids.cpu().tolist(), log_probabilities.cpu().tolist()
            for row, (index, length) in enumerate(zip(batch.indices, batch.lengths.tolist())):
                paths = [path[:length] for path in tag_ids[row]]
                found = [(path, lp) for path, lp in zip(paths, log_probabilities[row]) if lp != float("-inf")]
                best[index] = [(path, math.exp(lp)) for path, lp in found]  # may round to 0.0, never dropped
    return best


def torch_k_best(loaded: LoadedModel, encode: TokenEncoder, batch_size: int, k: int, device: torch.device, precision: str) -> KBest:
    """``predict --k-best``'s step for a PyTorch CRF model: a group of token lists (in their
    document contexts, if given) → each one's ``k`` best tag id sequences and probabilities;
    arguments as for :func:`torch_decoder`."""

    def k_best(pieces: list[list[str]], contexts: list[Context] | None = None) -> list[list[tuple[list[int], float]]]:
        return decode_k_best(loaded.model, encode.encode_sentences(pieces, contexts=contexts), batch_size, device, k, precision)

    return k_best
