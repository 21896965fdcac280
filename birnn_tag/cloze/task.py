"""The cloze task's steps in training and loading (:class:`~birnn_tag.contracts.Task`); reading
text (``datasets``) is imported by the step that uses it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from birnn_tag.cloze.network import ClozeNetwork, build_cloze_model
from birnn_tag.config import Config
from birnn_tag.contracts import Task
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError

if TYPE_CHECKING:
    from birnn_tag.cloze.text import TextSources
    from birnn_tag.cloze.evaluation import ClozeReport
    from birnn_tag.cloze.public import ClozeModel
    from birnn_tag.runs.checkpoint import LoadedModel


class ClozeTask(Task["TextSources"]):
    """Fills in words from both sides of their context."""

    loss_mean_over = "tokens"
    pipeline_tag = "fill-mask"

    def read(self, config: Config) -> TextSources:
        from birnn_tag.cloze.text import read_cloze_sources

        return read_cloze_sources(config.data)

    def encode_splits(self, config: Config, corpus: TextSources, vocabs: Vocabularies | None) -> tuple[Vocabularies, dict[str, Split]]:
        from birnn_tag.cloze.text import encode_cloze_splits

        return encode_cloze_splits(config, corpus, vocabs)

    def build_model(self, config: Config, vocabs: Vocabularies, folder: Path | None = None) -> ClozeNetwork:
        return build_cloze_model(config.model, len(vocabs.words))

    def score(
        self, model: ClozeNetwork, split: Split, vocabs: Vocabularies, config: Config, device: torch.device, *, full: bool = False
    ) -> ClozeReport:
        from birnn_tag.cloze.evaluation import score_cloze

        return score_cloze(model, split, vocabs, config, device)

    def open(self, loaded: LoadedModel, device: torch.device, precision: str | None) -> ClozeModel:
        from birnn_tag.cloze.public import ClozeModel

        return ClozeModel(loaded, device, precision)

    def may_skip_parameters(self, model: ClozeNetwork) -> bool:
        """An adaptive softmax uses a tail cluster only when a batch has a target in it."""
        return model.output.adaptive is not None

    def language_model(self, path: Path) -> nn.Module:
        """A cloze run's checkpoint as a tagger's TagLM features (``model.lm_embeddings``)."""
        from birnn_tag.contextual.lm_states import LMStates
        from birnn_tag.runs.checkpoint import read_checkpoint, restore_model

        try:
            payload = read_checkpoint(path)
        except BirnnTagError as error:
            raise BirnnTagError(f"model.lm_embeddings: {error}") from None
        task = payload["config"].get("task", "tagging")
        if task != "cloze":
            raise BirnnTagError(f"model.lm_embeddings: {path} is a {task} run; expected a cloze run (task: cloze)")
        return LMStates(restore_model(payload, path, self.build_model))
