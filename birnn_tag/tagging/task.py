"""The tagging task's steps in training and loading (:class:`~birnn_tag.contracts.Task`).

Only model building is imported up front. Reading data (``datasets``), scoring (``seqeval``, which
imports scikit-learn and SciPy) and pretrained vectors are imported by the steps that use them,
as ``birnn-tag predict`` only builds a model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from birnn_tag.config import Config
from birnn_tag.contracts import Finished, Task
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import ConfigError
from birnn_tag.tagging.network.tagger import Tagger, build_tagger

if TYPE_CHECKING:
    from birnn_tag.data.reading.sources import Corpus
    from birnn_tag.runs.checkpoint import LoadedModel
    from birnn_tag.tagging.public.pytorch import TaggingModel
    from birnn_tag.tagging.scoring.evaluation import Report


class TaggingTask(Task["Corpus"]):
    """Tags per token. ``language_model`` rebuilds a trained cloze run as a tagger's TagLM
    features (``model.lm_embeddings``); the registry passes it in, as only it knows both tasks."""

    loss_mean_over = "sentences"
    can_calibrate = True
    pipeline_tag = "token-classification"

    def __init__(self, language_model: Callable[[Path], nn.Module]) -> None:
        self.language_model = language_model

    def read(self, config: Config) -> Corpus:
        from birnn_tag.data.reading.sources import load_corpus

        return load_corpus(config.data)

    def settle(self, config: Config, corpus: Corpus) -> Config:
        from birnn_tag.tagging.data.splits import settle_scheme

        return settle_scheme(config, corpus)

    def encode_splits(self, config: Config, corpus: Corpus, vocabs: Vocabularies | None) -> tuple[Vocabularies, dict[str, Split]]:
        from birnn_tag.tagging.data.splits import encode_tagging_splits

        return encode_tagging_splits(config, corpus, vocabs, self.build_model)

    def build_model(self, config: Config, vocabs: Vocabularies, folder: Path | None = None) -> Tagger:
        contexts = []
        if config.model.contextual():
            from birnn_tag.contextual.sources import context_sources

            contexts = context_sources(config.model, folder, self.language_model)
        return build_tagger(config.model, len(vocabs.words), len(vocabs.chars), vocabs.labels.items, config.data.scheme, contexts)

    def prepare_split(self, model: Tagger, split: Split) -> Split:
        """The split with its cached contextual features (itself without contextual sources)."""
        return model.with_context(split)

    def keep_files(self, model: Tagger, folder: Path) -> None:
        """The contextual sources' files (a transformer's tokenizer and config, a language model)."""
        if len(model.contexts):
            from birnn_tag.contextual.sources import keep_source_files

            keep_source_files(list(model.contexts), folder)

    def score(
        self, model: Tagger, split: Split, vocabs: Vocabularies, config: Config, device: torch.device, *, full: bool = False
    ) -> Report:
        from birnn_tag.tagging.scoring.evaluation import score_model

        return score_model(model, split, vocabs, config, device, full=full)

    def initialize(self, model: Tagger, config: Config, vocabs: Vocabularies) -> str | None:
        """Copy pretrained vectors (``model.embeddings``) into the word embedding."""
        from birnn_tag.data.pretrained import embedding_matrix

        path = config.model.embeddings
        if not path:
            return None
        matrix, found = embedding_matrix(vocabs.words.items, path, seed=config.training.seed)
        if matrix.shape[1] != config.model.word_dim:
            raise ConfigError(f"model.word_dim: is {config.model.word_dim} but {path} has {matrix.shape[1]}-d vectors")
        with torch.no_grad():
            model.embedder.words.weight.copy_(matrix)
        return f"{path}: pretrained vectors for {found:,} of {len(vocabs.words) - 2:,} words"

    def finish(
        self, model: Tagger, splits: dict[str, Split], vocabs: Vocabularies, config: Config, device: torch.device
    ) -> Finished | None:
        """Fit the temperature on the validation split (nothing without one, or without a
        validation sentence whose labels the model knows)."""
        from birnn_tag.tagging.scoring.calibration import fit_temperature

        if "validation" not in splits:
            return None
        fitted = fit_temperature(model, splits["validation"], vocabs, device, config.training.eval_batch_size)
        if fitted is None:
            return None
        model.head.temperature.fill_(fitted.temperature)
        return Finished(
            {"calibration": fitted.to_dict()},
            f"calibrated on validation: temperature {fitted.temperature:.3f}, "
            f"NLL per token {fitted.nll_before:.4f} → {fitted.nll_after:.4f}",
        )

    def open(self, loaded: LoadedModel, device: torch.device, precision: str | None) -> TaggingModel:
        from birnn_tag.tagging.public.pytorch import TaggingModel

        return TaggingModel(loaded, device, precision)

    def may_skip_parameters(self, model: Tagger) -> bool:
        """Layers of a fine-tuned transformer above the highest mixed one (and BERT's pooler)
        get no gradient."""
        return any(source.fine_tune for source in model.contexts)
