"""The sequence tagger: token embedder → BiLSTM encoder → head, and its builder from a config."""

from __future__ import annotations

import torch
from torch import nn

from birnn_tag.config import ModelConfig
from birnn_tag.data.batching import Batch
from birnn_tag.model.embeddings import CharCNN, TokenEmbedder
from birnn_tag.model.encoder import BiLSTMEncoder
from birnn_tag.model.heads import SoftmaxHead


class Tagger(nn.Module):
    """Composes the parts; a batch goes in, features, a loss or decoded tags come out."""

    def __init__(self, embedder: TokenEmbedder, encoder: BiLSTMEncoder, head: SoftmaxHead) -> None:
        super().__init__()
        self.embedder = embedder
        self.encoder = encoder
        self.head = head

    def features(self, batch: Batch) -> torch.Tensor:
        """Encoder features (batch, time, 2 * hidden_size) of a padded batch."""
        outputs, _ = self.encoder(self.embedder(batch.word_ids, batch.char_ids, batch.mask), batch.lengths)
        return outputs

    def loss(self, batch: Batch) -> torch.Tensor:
        """Training loss of a batch (a scalar)."""
        return self.head.loss(self.features(batch), batch.tag_ids, batch.mask)

    def decode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted tag ids and per-token confidences, each (batch, time)."""
        return self.head.decode(self.features(batch), batch.mask)


def build_tagger(config: ModelConfig, num_words: int, num_chars: int, num_tags: int) -> Tagger:
    """Build an untrained tagger for the given vocabulary sizes."""
    chars = None
    if config.char_encoder == "cnn":
        chars = CharCNN(num_chars, config.char_dim, config.char_filters, config.char_kernel_size)
    embedder = TokenEmbedder(num_words, config.word_dim, chars, config.dropout)
    encoder = BiLSTMEncoder(embedder.output_dim, config.hidden_size, config.num_layers, config.dropout)
    return Tagger(embedder, encoder, SoftmaxHead(encoder.output_dim, num_tags))
