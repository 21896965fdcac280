"""The sequence tagger: token embedder (with optional contextual features) → BiRNN encoder →
head, and its builder from a config."""

from __future__ import annotations

import torch
from torch import nn

from birnn_tag.config import TaggingModelConfig
from birnn_tag.data.batching import Batch
from birnn_tag.data.split import Split
from birnn_tag.data.token_ids import CASINGS
from birnn_tag.data.vocab import PAD_ID, UNK_ID
from birnn_tag.errors import BirnnTagError
from birnn_tag.nn.embeddings import CharCNN, CharRNN, TokenEmbedder
from birnn_tag.nn.encoder import BiRNNEncoder
from birnn_tag.nn.scalar_mix import ScalarMix
from birnn_tag.tagging.network.crf import CRFHead
from birnn_tag.tagging.network.heads import SoftmaxHead
from birnn_tag.tagging.data.schemes import NO_SPANS
from birnn_tag.tagging.network.transitions import allowed_transitions


class Tagger(nn.Module):
    """Composes the parts; a batch goes in, features, a loss or decoded tags come out.

    ``contexts`` are the contextual feature sources (a transformer, a cloze LM), modules that map
    token lists to (batch, time, layers, dim) features. A frozen one's features of a split are
    computed once (:meth:`with_context`) and come with each batch; otherwise, and for a
    fine-tuned transformer always, the tagger computes them from the batch's tokens.
    """

    def __init__(
        self, embedder: TokenEmbedder, encoder: BiRNNEncoder, head: SoftmaxHead | CRFHead, contexts: list[nn.Module] = (),
        memory: bool = False,
    ) -> None:
        super().__init__()
        self.embedder = embedder
        self.encoder = encoder
        self.head = head
        self.contexts = nn.ModuleList(contexts)
        self.memory = memory  # model.document_memory: the head reads :func:`word_memory`'s features

    def features(self, batch: Batch) -> torch.Tensor:
        """Encoder features (batch, time, dim) of a padded batch: 2 * hidden_size, or with document
        memory 4 * hidden_size + 1 (:func:`word_memory`). A batch with document context is read
        window by window, and each sentence's own states are kept; a model with document memory
        reads only such batches."""
        window = batch.window
        if window is None and self.memory:
            raise BirnnTagError("a model with document memory reads sentences in windows: encode them with their contexts (none: empty)")
        if window is None:
            embedded = self.embedder(batch.word_ids, batch.char_ids, batch.mask, batch.casing_ids, self.context_features(batch))
            return self.encoder(embedded, batch.lengths)
        states = self.encoder(self.embedder(window.word_ids, window.char_ids, window.mask, window.casing_ids), window.lengths)
        if self.memory:
            states = word_memory(states, window.spellings, window.mask)
        return sentence_states(states, window.starts, batch.mask.shape[1])

    def context_features(self, batch: Batch) -> list[torch.Tensor] | None:
        """Each contextual source's (batch, time, layers, dim) features: the batch's cached ones,
        or computed from its tokens. A frozen source's are rounded to fp16 as the cache keeps
        them, so that tagging on the fly gives what scoring a split gives."""
        if not len(self.contexts):
            return None
        cached = batch.context or [None] * len(self.contexts)
        features = []
        for source, given in zip(self.contexts, cached):
            if given is None:
                given = source(batch.tokens).to(batch.word_ids.device)
                given = given if source.fine_tune else given.half()
            features.append(given)
        return features

    def with_context(self, split: Split) -> Split:
        """``split`` with its frozen sources' features on each sentence, computed once per split
        content and source and cached on disk (:mod:`birnn_tag.contextual.feature_cache`). A split
        that carries these sources' features already is returned as it is; one that carries other
        sources' (another model's) gets these instead."""
        if not len(self.contexts) or not split.sentences:
            return split
        from birnn_tag.contextual.feature_cache import cached_features

        keys = [None if source.fine_tune else source.cache_key() for source in self.contexts]
        if split.context_keys == keys:
            return split  # given by this model, or by one with the same sources
        tokens = [sentence.tokens for sentence in split.sentences]
        per_source = [None if key is None else cached_features(source, tokens) for source, key in zip(self.contexts, keys)]
        rows = [[None if features is None else features[row] for features in per_source] for row in range(len(tokens))]
        return split.with_context(rows, keys)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Training loss of a batch (a scalar): of its gold tags, or of its soft targets when it
        has them (:mod:`~birnn_tag.tagging.distillation`)."""
        features = self.features(batch)
        with _full_precision(features):
            if batch.soft_tags is not None:
                return self.head.soft_loss(features.float(), batch.soft_tags, batch.mask, batch.tag_ids)
            return self.head.loss(features.float(), batch.tag_ids, batch.mask)

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss: ``forward`` is what DistributedDataParallel synchronises around."""
        return self.loss(batch)

    def decode(self, batch: Batch, confidences: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predicted tag ids and (if asked) per-token confidences, each (batch, time)."""
        features = self.features(batch)
        with _full_precision(features):
            return self.head.decode(features.float(), batch.mask, confidences)

    def k_best(self, batch: Batch, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most probable tag sequences (batch, k, time) and their log-probabilities
        (batch, k), best first (CRF heads only: a softmax head scores tokens, not sequences)."""
        features = self.features(batch)
        with _full_precision(features):
            return self.head.k_best_probabilities(features.float(), batch.mask, k)


def sentence_states(states: torch.Tensor, starts: torch.Tensor, time: int) -> torch.Tensor:
    """The (batch, ``time``, dim) states of the sentences inside windows' (batch, window time,
    dim) ``states``, sentence ``b`` starting at ``starts[b]``; cells past a sentence's end hold
    whatever follows it (the batch's mask leaves them out). A gather of computed positions, so
    that an export traces it without data-dependent shapes."""
    positions = (starts[:, None] + torch.arange(time, device=states.device)[None, :]).clamp(max=states.shape[1] - 1)
    return states.gather(1, positions[:, :, None].expand(-1, -1, states.shape[2]))


def word_memory(states: torch.Tensor, spellings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each window token's (batch, time, dim) state joined by the mean state of the window's
    other tokens with the same ``spellings`` key (the same word up to case) and a flag saying
    whether there was one: (batch, time, 2 * dim + 1). Masks and a matrix product, so that it
    runs batched on any device and exports without data-dependent shapes."""
    steps = torch.arange(states.shape[1], device=states.device)
    same = (spellings[:, :, None] == spellings[:, None, :]) & mask[:, None, :] & (steps[:, None] != steps[None, :])
    weights = same.to(states.dtype)  # (batch, time, time)
    counts = weights.sum(dim=2, keepdim=True)  # (batch, time, 1)
    memory = torch.bmm(weights, states) / counts.clamp(min=1.0)
    return torch.cat([states, memory, (counts > 0).to(states.dtype)], dim=2)


def _full_precision(features: torch.Tensor) -> torch.autocast:
    """Autocast switched off: under bf16 autocast the head still runs in fp32, as its path scores
    sum emissions over a sentence and an 8-bit mantissa would round them; its projection to a
    few tags costs little at any precision."""
    return torch.autocast(features.device.type, enabled=False)


def build_tagger(
    config: TaggingModelConfig, num_words: int, num_chars: int, labels: list[str], scheme: str, contexts: list[nn.Module] = ()
) -> Tagger:
    """Build an untrained tagger for the given vocabulary sizes, label list and tag scheme, over
    the given contextual sources (:func:`birnn_tag.contextual.sources.context_sources`).

    Under ``scheme`` none every label may follow every other: ``config.constrained`` has nothing
    to forbid, and the CRF learns its transitions unconstrained."""
    chars = None
    if config.char_encoder == "cnn":
        chars = CharCNN(num_chars, config.char_dim, config.char_filters, config.char_kernel_size)
    elif config.char_encoder == "lstm":
        chars = CharRNN(num_chars, config.char_dim, config.char_hidden_size, config.cell)
    words = nn.Embedding(num_words, config.word_dim, padding_idx=PAD_ID)
    words.weight.requires_grad_(not config.freeze_embeddings)
    casing = nn.Embedding(len(CASINGS), config.casing_dim, padding_idx=PAD_ID) if config.casing_dim else None
    mixes = [ScalarMix(source.num_layers, source.dim) for source in contexts]
    embedder = TokenEmbedder(words, chars, casing, config.dropout, config.word_dropout, unk_id=UNK_ID, mixes=mixes)
    encoder = BiRNNEncoder(embedder.output_dim, config.hidden_size, config.num_layers, config.dropout, config.cell)
    allowed = allowed_transitions(scheme, labels) if config.constrained and scheme != NO_SPANS else None
    head_type = CRFHead if config.head == "crf" else SoftmaxHead
    features = 2 * encoder.output_dim + 1 if config.document_memory else encoder.output_dim
    return Tagger(embedder, encoder, head_type(features, len(labels), allowed), contexts, config.document_memory)
