"""Score a tagger: decode a split, join its pieces back into sentences, and compare with the
gold tags by the run's scheme (entity F1 for span schemes, token accuracy for labels without spans)."""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import torch

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.config import Config
from birnn_tag.data.pieces import join_windows
from birnn_tag.data.reading.sources import Corpus, load_corpus, read_file
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError
from birnn_tag.tagging.scoring.calibration_error import Calibration, calibration_errors
from birnn_tag.tagging.prediction.decoding import decode_sentences
from birnn_tag.tagging.prediction.streaming import join_tags
from birnn_tag.tagging.scoring.label_scores import LabelReport, score_labels
from birnn_tag.tagging.data.splits import tagging_split, warn_unknown_labels
from birnn_tag.tagging.data.preparation import clean_split, cut_sentences
from birnn_tag.tagging.scoring.reports import ScoredSentences
from birnn_tag.tagging.data.schemes import NO_SPANS
from birnn_tag.tagging.scoring.span_scores import SpanReport, score_spans
from birnn_tag.tagging.network.tagger import Tagger

Report = SpanReport | LabelReport


def evaluate_tags(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    scheme: str,
    seen: Sequence[Sequence[bool]] | None = None,
    *,
    sentences: ScoredSentences | None = None,
    calibration: Calibration | None = None,
) -> Report:
    """Score predicted tag sequences against gold ones, both in ``scheme``: entity scores for
    IOB2 / BIOES, token scores for ``none`` (with accuracy on seen and unseen words when
    ``seen`` marks the tokens whose word was in training). The report keeps the scored
    ``sentences`` and the ``calibration`` it is given."""
    if scheme == NO_SPANS:
        return score_labels(gold, predicted, seen, sentences=sentences, calibration=calibration)
    return score_spans(gold, predicted, scheme, sentences=sentences, calibration=calibration)


def evaluate_checkpoint(
    loaded: LoadedModel,
    *,
    split: str = "test",
    data_file: str | None = None,
    device: torch.device,
    precision: str | None = None,
) -> Report:
    """Score a trained model on one split of its configured data, or on another file read the
    same way; ``precision`` defaults to the run's ``training.eval_precision``."""
    tagged = load_scored_split(loaded, split=split, data_file=data_file)
    return score_model(loaded.model, tagged, loaded.vocabs, loaded.config, device, precision, full=True)


def split_predictions(
    loaded: LoadedModel,
    *,
    split: str = "test",
    data_file: str | None = None,
    device: torch.device,
    precision: str | None = None,
) -> tuple[list[list[str]], list[list[str]]]:
    """Each sentence's gold and predicted tags (in the run's scheme) on a split or a file, as
    :func:`evaluate_checkpoint` scores them."""
    tagged = load_scored_split(loaded, split=split, data_file=data_file)
    predicted, _, _ = decode_split(loaded.model, tagged, loaded.vocabs, loaded.config, device, precision)
    return tagged.tags, predicted


def load_scored_split(loaded: LoadedModel, *, split: str = "test", data_file: str | None = None) -> Split:
    """One split of the run's data (or a file read the same way), cleaned, cut into pieces and
    encoded as the model was trained on; unseen gold labels are warned about."""
    config = loaded.config
    if data_file is not None:
        dataset = read_file(data_file, config.data)
        corpus = Corpus(datasets.DatasetDict({"test": dataset}), {"test": data_file})
        split = "test"
    else:
        corpus = load_corpus(config.data, only=split)
    sentences = clean_split(corpus, split, config.data)
    if "tags" not in sentences.column_names:
        raise DataError(f"{corpus.origins[split]}: no tags to evaluate against")
    warn_unknown_labels(corpus.origins[split], sentences, loaded.vocabs, config.data.scheme)
    pieces = cut_sentences(sentences, config.data, keep_entities=False)
    return tagging_split(sentences, pieces, loaded.vocabs, config)


def decode_split(
    model: Tagger,
    split: Split,
    vocabs: Vocabularies,
    config: Config,
    device: torch.device,
    precision: str | None = None,
    confidences: bool = False,
) -> tuple[list[list[str]], list[list[bool]], list[list[float]] | None]:
    """Each whole sentence's predicted tags (its pieces decoded and joined), which of its tokens'
    words were in the training vocabulary, and (if asked) its tokens' confidences."""
    precision = precision or config.training.eval_precision
    split = model.with_context(split)
    tag_ids, scores = decode_sentences(model, split.sentences, config.training.eval_batch_size, device, confidences, precision)
    predicted = join_tags(tag_ids, split.bounds, vocabs.labels.items, config.data.scheme)
    words = [[vocabs.seen_in_training(i) for i in piece.words.tolist()] for piece in split.sentences]
    return predicted, join_windows(words, split.bounds), None if scores is None else join_windows(scores, split.bounds)


def calibration_report(
    model: Tagger,
    split: Split,
    predicted: list[list[str]],
    calibrated: list[list[float]],
    config: Config,
    device: torch.device,
    precision: str | None = None,
) -> Calibration:
    """The head's temperature and the expected calibration errors of the confidences before
    (temperature 1, decoded here unless the temperature is 1) and after it (``calibrated``)."""
    precision = precision or config.training.eval_precision
    head, scheme = model.head, config.data.scheme
    fitted = head.temperature.clone()
    after = calibration_errors(split.tags, predicted, calibrated, scheme)
    before = after
    if float(fitted) != 1.0:
        try:
            head.temperature.fill_(1.0)
            _, scores = decode_sentences(model, split.sentences, config.training.eval_batch_size, device, True, precision)
            before = calibration_errors(split.tags, predicted, join_windows(scores, split.bounds), scheme)
        finally:
            head.temperature.copy_(fitted)
    return Calibration(float(fitted), before, after)


def score_model(
    model: Tagger,
    split: Split,
    vocabs: Vocabularies,
    config: Config,
    device: torch.device,
    precision: str | None = None,
    *,
    full: bool = False,
) -> Report:
    """Decode a split's pieces, join them back into sentences and score those against the
    sentences' gold tags (at ``precision``, by default ``training.eval_precision``). A ``full``
    report (``evaluate``, a run's final reports) also measures the confidences' calibration."""
    # A full report's confidences come with its tags: one decode, not one more for calibration.
    predicted, seen, calibrated = decode_split(model, split, vocabs, config, device, precision, confidences=full)
    scheme = config.data.scheme
    calibration = calibration_report(model, split, predicted, calibrated, config, device, precision) if full else None
    return evaluate_tags(
        split.tags, predicted, scheme, seen if scheme == NO_SPANS else None,
        # ``seen`` for the error analysis, made if the report is saved or shown
        sentences=ScoredSentences(split.tokens, split.tags, predicted, seen), calibration=calibration,
    )
