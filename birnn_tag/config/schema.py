"""The configuration's schema: one frozen dataclass per section, and per task for ``model``.

One name per setting: the YAML key, the dataclass field and the checkpoint key are the same
string. A field's ``min``/``max`` metadata bounds its value (checked by :mod:`.reading`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from birnn_tag.errors import ConfigError

# The scheme a tagger is trained and scored in: a span scheme (entities, chunks), "none" (token
# labels as they are: POS tags), or "auto" (none when no tag has a span prefix, else IOB2).
Scheme = Literal["auto", "IOB2", "BIOES", "none"]
Precision = Literal["fp32", "bf16", "auto"]

# Upper bounds for sizes and counts: far beyond any useful value, low enough that a typo such as
# 10**23 is refused with the key's name instead of failing inside torch or Python.
MAX_SIZE = 2**16  # dimensions, layers, threads, kernel and word lengths
MAX_COUNT = 2**31 - 1  # epochs, batch sizes, sentence lengths, vocabulary sizes


def _bounded(default: Any, *, min: float | None = None, max: float | None = None) -> Any:
    """A dataclass field whose numeric value must lie in [min, max]."""
    return field(default=default, metadata={"min": min, "max": max})


#: ``data.tokenizer``'s values (:mod:`birnn_tag.data.reading.tokenize`); ``ptb`` is the old name of ``default``.
TOKENIZERS = ("default", "whitespace", "spacy:<lang>")


def known_tokenizer(name: str) -> bool:
    """Whether ``name`` is one of :data:`TOKENIZERS` (with a language code for spaCy)."""
    return name in ("default", "whitespace", "ptb") or (name.startswith("spacy:") and len(name) > len("spacy:"))


@dataclass(frozen=True)
class DataConfig:
    """Where the sentences come from and how their tags are read.

    Exactly one source: ``hub`` (a Hugging Face dataset id), ``disk`` (a ``save_to_disk`` folder)
    or per-split files (``train``/``validation``/``test``: CoNLL columns, json, jsonl, csv, parquet).
    """

    # Annotation tools' character spans: doccano, label-studio, prodigy (auto detects them in .json/.jsonl).
    format: Literal["auto", "conll", "conllu", "text", "json", "csv", "parquet", "doccano", "label-studio", "prodigy"] = "auto"
    # Cloze: also a list of files, read one after the other (a CoNLL file needs data.token_column).
    train: str | list[str] | None = None
    validation: str | None = None
    test: str | None = None
    hub: str | None = None
    hub_config: str | None = None
    disk: str | None = None
    # CoNLL files: column index (0-based, negative counts from the end); tables: field name;
    # CoNLL-U: a column name (form, lemma, upos, xpos, feats, deprel...) or index; tags default to upos.
    # Cloze: a file in CoNLL columns (neither .txt nor a table) is read as columns only when
    # token_column is set, one sentence per line of text; otherwise as plain text.
    token_column: int | str | None = None
    tag_column: int | str | None = None
    separator: Literal["auto", "space", "tab"] = "auto"
    # How every data file's bytes are text: utf-8, latin-1, cp1252, utf-16 (with its byte-order mark)...
    encoding: str = "utf-8"
    # Character spans that miss token boundaries, overlap or leave the text: error, expand (to the
    # tokens a misaligned span touches; the others are skipped) or skip.
    misaligned_spans: Literal["error", "expand", "skip"] = "error"
    validation_fraction: float = _bounded(0.0, min=0.0, max=0.5)
    input_scheme: Literal["auto", "IOB1", "IOB2", "BIOES", "none"] = "auto"
    scheme: Scheme = "auto"
    invalid_tags: Literal["repair", "error"] = "repair"
    # A training tag that marks a token as not labelled (e.g. "-"): trained by marginalising over
    # the tags it could have (CRF) or left out of the loss (softmax).
    missing_tag: str | None = None
    max_length: int = _bounded(250, min=1, max=MAX_COUNT)
    long_sentences: Literal["split", "error"] = "split"
    # Cloze: where the text is in a table (a string, or a list of tokens).
    text_column: str = "text"
    # How text becomes tokens (cloze training text; text that predict, the API and the service tag
    # or fill in): default, whitespace or spacy:<lang> (see TOKENIZERS).
    tokenizer: str = "default"


@dataclass(frozen=True)
class EncodingConfig:
    """How tokens become ids; vocabularies are built from the training split only."""

    lowercase: bool = False
    normalize_digits: bool = True
    min_freq: int = _bounded(1, min=1, max=MAX_COUNT)
    max_size: int | None = _bounded(None, min=1, max=MAX_COUNT)
    # Add every word of any split that has a pretrained vector (model.embeddings) to the vocabulary.
    include_pretrained: bool = False
    max_word_length: int = _bounded(30, min=1, max=MAX_SIZE)


@dataclass(frozen=True)
class TransformerConfig:
    """Features of a pretrained transformer (``transformers``' Auto classes; the ``[transformers]``
    extra) joined to each word's representation; off while ``name`` is null."""

    # A Hugging Face hub id or a local model folder.
    name: str | None = None
    # Hidden states to mix (0: the embedding layer's output, -1: the last layer), by a learned scalar mix.
    # null: the top four the model has (all of them for a model of fewer than four layers).
    layers: list[int] | None = None
    # Which subword of a word stands for it: the first, the mean of all, or the last.
    pooling: Literal["first", "mean", "last"] = "first"
    # Train the transformer's weights with the tagger. Frozen (false), each split's features are
    # computed once and cached, and the run folder keeps no copy of the weights.
    fine_tune: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """The settings every model has; each task's schema adds its own (:data:`MODEL_SCHEMAS`)."""

    # 0: no word embedding, for a tagger on contextual features alone (model.transformer, lm_embeddings).
    word_dim: int = _bounded(100, min=0, max=MAX_SIZE)
    # The recurrent cell of the tagger's encoder and character BiRNN, and of the cloze stacks.
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    hidden_size: int = _bounded(200, min=1, max=MAX_SIZE)
    num_layers: int = _bounded(1, min=1, max=MAX_SIZE)
    dropout: float = _bounded(0.5, min=0.0, max=0.95)

    def contextual(self) -> bool:
        """Whether the model reads contextual features (a transformer's, a language model's)
        beside its word embedding."""
        return False

    def input_paths(self) -> list[str]:
        """The files and folders the model reads when it is built, beside the data."""
        return []


@dataclass(frozen=True)
class TaggingModelConfig(ModelConfig):
    """A tagger: embeddings → optional character CNN or BiRNN → stacked BiRNN (``cell``) →
    output head."""

    # Pretrained vectors (GloVe / word2vec / fastText text, .gz ok); word_dim must match their size.
    embeddings: str | None = None
    freeze_embeddings: bool = False
    word_dropout: float = _bounded(0.0, min=0.0, max=0.9)
    casing_dim: int = _bounded(0, min=0, max=MAX_SIZE)  # word-shape feature embedding; 0 = off
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    # A trained cloze run (TagLM): its forward and backward states at each word, frozen, join the
    # word's representation.
    lm_embeddings: str | None = None
    char_encoder: Literal["none", "cnn", "lstm"] = "cnn"
    char_dim: int = _bounded(30, min=1, max=MAX_SIZE)
    char_filters: int = _bounded(50, min=1, max=MAX_SIZE)
    char_kernel_size: int = _bounded(3, min=1, max=MAX_SIZE)
    char_hidden_size: int = _bounded(25, min=1, max=MAX_SIZE)  # per direction, char_encoder: lstm
    head: Literal["softmax", "crf"] = "softmax"
    # Document context: the encoder reads up to this many tokens of the neighbouring sentences
    # of the same document on each side of a sentence; only the sentence is tagged. 0 = off.
    document_context: int = _bounded(0, min=0, max=MAX_SIZE)
    # With document context: each token also reads the mean encoder state of the other tokens of
    # its window spelled the same up to case (a memory of the word in its document).
    document_memory: bool = False
    # Decode only tag sequences the scheme allows (no O → I-X), for both heads; data.scheme none
    # allows every sequence, so there is nothing to constrain.
    constrained: bool = True

    def contextual(self) -> bool:
        return bool(self.transformer.name or self.lm_embeddings)

    def input_paths(self) -> list[str]:
        return [path for path in (self.embeddings, self.lm_embeddings, self.transformer.name) if path]


@dataclass(frozen=True)
class ClozeModelConfig(ModelConfig):
    """A cloze model: word embeddings → directional stacks (``cell``) → a distribution over words."""

    # Which context the prediction at t sees (x_<t, x_>t or both), and the output layer.
    direction: Literal["both", "forward", "backward"] = "both"
    output_layer: Literal["auto", "softmax", "adaptive"] = "auto"
    adaptive_cutoffs: list[int] | None = None


# The user's contract: `task` picks the model section's schema.
TaskName = Literal["tagging", "cloze"]
DEFAULT_TASK: TaskName = "tagging"
MODEL_SCHEMAS: dict[str, type[ModelConfig]] = {"tagging": TaggingModelConfig, "cloze": ClozeModelConfig}


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation, early stopping, device and reproducibility."""

    epochs: int = _bounded(30, min=1, max=MAX_COUNT)
    batch_size: int = _bounded(32, min=1, max=MAX_COUNT)
    eval_batch_size: int = _bounded(256, min=1, max=MAX_COUNT)
    # Tagging models' evaluation and prediction: bf16 autocast, fp32, or auto (bf16 on hardware
    # with native bf16); birnn_tag/runtime/precision.py.
    eval_precision: Precision = "fp32"
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = _bounded(0.015, min=0.0)
    momentum: float = _bounded(0.9, min=0.0, max=1.0)
    lr_decay: float = _bounded(0.05, min=0.0)
    weight_decay: float = _bounded(0.0, min=0.0)
    clip_grad_norm: float | None = _bounded(5.0, min=0.0)
    patience: int | None = _bounded(5, min=1, max=MAX_COUNT)
    # torch.manual_seed takes 64-bit seeds; 32 bits leave room for those derived from this one
    # (training.epoch_seed: one per epoch and rank).
    seed: int = _bounded(1, min=0, max=2**32 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Training's numeric precision: bf16 autocast (fp32 master weights; the CRF and the loss stay
    # fp32), fp32, or auto (bf16 where the CPU or GPU multiplies bf16 natively). amp: true is
    # bf16 on CUDA, as configs written before training.precision say it.
    precision: Precision = "fp32"
    amp: bool = False
    threads: int | None = _bounded(None, min=1, max=MAX_SIZE)
    # Knowledge distillation (taggers): a trained tagging run (folder or checkpoint) whose
    # calibrated marginals are targets too; teacher_weight of each token's target is the
    # teacher's, the rest the gold tag's. teacher_text: files of unlabelled text the teacher
    # labels for training (CoNLL .conll / .conllu, else a document per line).
    teacher: str | None = None
    teacher_weight: float = _bounded(0.5, min=0.0, max=1.0)
    teacher_text: list[str] = field(default_factory=list)
    progress: bool = True
    # Also write each epoch's metrics as TensorBoard scalars, an event file in the run folder ([tensorboard] extra).
    tensorboard: bool = False
    # Experiment tracking ([tune] extra): mlflow logs the config as params, every epoch's metrics,
    # the final reports and the run folder as artifacts.
    tracking: Literal["none", "mlflow"] = "none"
    # The MLflow tracking URI (a database URL, http(s)://, databricks...); null: MLflow's own
    # default (MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory).
    tracking_uri: str | None = None
    tracking_experiment: str = "birnn-tag"


@dataclass(frozen=True)
class OutputConfig:
    """Where the run folder goes."""

    dir: str = "runs/run"
    overwrite: bool = False


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run."""

    task: TaskName = DEFAULT_TASK
    data: DataConfig = DataConfig()
    encoding: EncodingConfig = EncodingConfig()
    # The schema of ``task`` (:data:`MODEL_SCHEMAS`): ``Config(task="cloze", model=ClozeModelConfig())``.
    model: ModelConfig = TaggingModelConfig()
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()

    def __post_init__(self) -> None:
        schema = MODEL_SCHEMAS[self.task]
        if type(self.model) is not schema:
            raise ConfigError(f"model: a {self.task} config takes a {schema.__name__}, got a {type(self.model).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (the form saved in run folders and checkpoints)."""
        return dataclasses.asdict(self)
