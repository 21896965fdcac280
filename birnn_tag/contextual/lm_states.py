"""TagLM features (Peters et al. 2017): a trained cloze run's forward and backward states.

A birnn-tag cloze model is a bidirectional language model: separate forward and backward stacks
(``birnn_tag/cloze/network.py``). For a tagger the top states *after* reading each word are wanted,
the word included, which a cloze prediction must exclude (:meth:`ClozeNetwork.states`). Words are
looked up in the LM's own vocabulary, normalised by the LM's encoding settings (a word it never
saw is its ``<unk>``), so the tagger's vocabulary and the LM's need not agree. The LM stays frozen:
its weights are not the tagger's parameters, and its checkpoint's checksum keys the feature cache.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.data.vocab import normalize_word


class LMStates(nn.Module):
    """(batch, time, 1, dim) states of a cloze run's stacks at each word of token lists; ``dim`` is
    the hidden size times the number of directions the LM has."""

    fine_tune = False  # always frozen: features are cached per split

    def __init__(self, loaded: LoadedModel) -> None:
        """``loaded``: a cloze run's model, read from its checkpoint file ``loaded.path``."""
        super().__init__()
        network = loaded.model.eval().requires_grad_(False)
        self._network = [network]  # in a list: not a registered child, so not in the tagger's state_dict
        self.checkpoint = loaded.path
        self.words, self.encoding = loaded.vocabs.words, loaded.config.encoding
        stacks = sum(stack is not None for stack in (network.forward_stack, network.backward_stack))
        self.num_layers, self.dim = 1, stacks * loaded.config.model.hidden_size
        self._sha256 = hashlib.sha256(self.checkpoint.read_bytes()).hexdigest()

    def cache_key(self) -> dict:
        """What the features depend on: the LM's weights and vocabulary, all in its checkpoint."""
        return {"lm_sha256": self._sha256}

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001 — nn.Module's signature
        self._network[0]._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def forward(self, sentences: list[list[str]]) -> torch.Tensor:
        """Token lists → (batch, time, 1, dim) float32 states, zero past each sentence's length."""
        network = self._network[0]
        device = network.boundary.device
        lengths = torch.tensor([len(tokens) for tokens in sentences])
        ids = torch.zeros(len(sentences), int(lengths.max()), dtype=torch.long)
        for row, tokens in enumerate(sentences):
            ids[row, : len(tokens)] = torch.tensor([self.words.id(normalize_word(token, self.encoding)) for token in tokens])
        with torch.no_grad():  # no_grad, not inference_mode: the states feed a trained scalar mix
            states = network.states(ids.to(device), lengths)
        return states.float().unsqueeze(2)
