"""Load train/validation/test splits through Hugging Face ``datasets``.

Every source ends as a ``DatasetDict`` whose splits have a ``tokens`` column (list of str), a
``tags`` column (list of str) when tags are present, and, for CoNLL files, the ``line`` where each
sentence starts, so later errors can point at ``file:line``.
"""

from __future__ import annotations

import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets.fingerprint import generate_random_fingerprint

from birnn_tag.config import DataConfig
from birnn_tag.data.reading import conllu
from birnn_tag.data.reading.conll import DOCUMENT_COLUMN, ColumnFormat, decode_lines, read_conll
from birnn_tag.data.reading.spans import SPAN_FORMATS, read_span_file, span_format_of
from birnn_tag.errors import DataError, first_line

SPLITS = ("train", "validation", "test")
_TABLE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
_COLUMN_FORMATS = {".conllu": "conllu"}
_TEXT_BUILDERS = ("text", "json", "csv")  # the builders that decode bytes (an ``encoding`` option)
_TOKEN_FIELDS = ("tokens", "words")
_TAG_FIELDS = ("ner_tags", "tags", "labels")

datasets.disable_progress_bars()


def map_batched(dataset: datasets.Dataset, function, **kwargs) -> datasets.Dataset:
    """``dataset.map(function, batched=True)`` in memory, without fingerprinting ``function``.

    Our functions close over vocabularies and corpora; hashing them is slow and can fail to pickle
    (pyarrow types), and an in-memory result needs no cache key, so a random fingerprint is given.
    """
    return dataset.map(
        function,
        batched=True,
        keep_in_memory=True,
        new_fingerprint=generate_random_fingerprint(),
        **kwargs,
    )


class SplitError(DataError):
    """A configured split's file that cannot be read; ``split`` says which split it is."""

    def __init__(self, message: str, split: str) -> None:
        super().__init__(message)
        self.split = split


@dataclass
class Corpus:
    """Splits plus a human-readable origin per split (a path or ``hub:name/split``)."""

    splits: datasets.DatasetDict
    origins: dict[str, str] = field(default_factory=dict)

    def where(self, split: str, row: int, line: int | None = None) -> str:
        """``file:line`` for CoNLL splits (pass the row's ``line``), ``origin row N`` for the rest."""
        if line is not None:
            return f"{self.origins[split]}:{line}"
        return f"{self.origins[split]} row {row + 1}"


def file_format(path: str | Path, configured: str = "auto") -> str:
    """``conll``, ``conllu`` or a ``datasets`` builder name, from the config or the file extension."""
    if configured != "auto":
        return configured
    suffix = Path(path).suffix.lower()
    return _COLUMN_FORMATS.get(suffix) or _TABLE_BUILDERS.get(suffix, "conll")


def span_format(path: str | Path, config: DataConfig) -> str | None:
    """Which annotation tool's span format (:data:`SPAN_FORMATS`) the file is in, from
    ``data.format`` or, for ``.json``/``.jsonl`` files, its first record; None for the rest."""
    kind = file_format(path, config.format)
    if kind == "json" and config.format == "auto":
        kind = span_format_of(Path(path), config.encoding) or kind
    return kind if kind in SPAN_FORMATS else None


def read_file(
    path: str | Path, config: DataConfig, *, with_tags: bool = True, key: str | None = None
) -> datasets.Dataset:
    """Read one local file (CoNLL columns or a table) into a standardised ``Dataset``; ``key``
    (``data.test``) is the setting that named it, for messages."""
    path = check_file(path, key)
    kind = file_format(path, config.format)
    if kind == "conll":
        columns = ColumnFormat(
            token_column=_int_column(config.token_column, 0, "token_column"),
            tag_column=_int_column(config.tag_column, -1, "tag_column") if with_tags else None,
            separator=config.separator,
        )
        return datasets.Dataset.from_dict(read_conll(path, columns, config.encoding))
    if kind == "conllu":
        token_column = conllu.column_index(config.token_column, conllu.TOKEN_COLUMN, "token_column", str(path))
        tag_column = conllu.column_index(config.tag_column, conllu.TAG_COLUMN, "tag_column", str(path)) if with_tags else None
        return datasets.Dataset.from_dict(conllu.read_conllu(path, token_column, tag_column, config.encoding))
    spans = span_format(path, config)
    if spans is not None:
        return datasets.Dataset.from_dict(read_span_file(path, spans, config, with_tags))
    return standardize(load_table(kind, path, config), config, str(path), with_tags=with_tags)


def load_table(builder: str, path: Path, config: DataConfig) -> datasets.Dataset:
    """A local file through a ``datasets`` builder, its text in ``data.encoding``; any failure is
    one line naming the file, and bytes that do not decode are named by line and byte."""
    options = {}
    if builder in _TEXT_BUILDERS:
        # Checked here: the builders name neither line nor byte, and pyarrow's JSON reader takes
        # invalid UTF-8 into its strings and fails only when a row is read.
        with path.open("rb") as handle:
            deque(decode_lines(handle, str(path), config.encoding), maxlen=0)
        options["encoding"] = config.encoding
    try:
        return load_fresh(builder, data_files=str(path), split="train", **options)
    except Exception as error:  # datasets wraps parser errors in several exception types
        raise DataError(f"{path}: cannot read as {builder}: {first_line(error)}") from None


def load_fresh(path: str, **kwargs) -> datasets.Dataset | datasets.DatasetDict:
    """``datasets.load_dataset`` for local data, read into memory from the files as they are now.

    The datasets cache keys local files by path and modification time: a file edited in place
    with its mtime kept (``cp -p``, ``rsync -a``, ``tar``) would load the old rows, and each new
    mtime would leave another copy of the data behind. A cache folder of its own, deleted once the
    rows are in memory, avoids both.
    """
    with tempfile.TemporaryDirectory(prefix="birnn-tag-datasets-") as cache:
        return datasets.load_dataset(path, cache_dir=cache, keep_in_memory=True, **kwargs)


def check_file(path: str | Path, key: str | None = None) -> Path:
    """``path`` as a Path, or a DataError if it is missing, a folder or empty; ``key`` (the
    setting that named the path) starts the message when given."""
    path = Path(path)
    where = f"{key}: {path}" if key else str(path)
    if path.is_dir():
        raise DataError(f"{where}: is a folder, not a data file")
    if not path.is_file():
        raise DataError(f"{where}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: file is empty")
    return path


def _int_column(value: int | str | None, default: int, name: str) -> int:
    if value is None:
        return default
    if not isinstance(value, int):
        raise DataError(f"data.{name}: CoNLL files need a column index, got {value!r}")
    return value


def _pick_field(dataset: datasets.Dataset, configured, candidates, origin: str, name: str) -> str:
    if configured is not None:
        if configured not in dataset.column_names:
            raise DataError(
                f"{origin}: no field {configured!r} (data.{name}); fields: {', '.join(dataset.column_names)}"
            )
        return str(configured)
    for candidate in candidates:
        if candidate in dataset.column_names:
            return candidate
    raise DataError(
        f"{origin}: none of the fields {', '.join(candidates)} found; set data.{name} "
        f"(fields: {', '.join(dataset.column_names)})"
    )


def _tag_names(dataset: datasets.Dataset, tag_field: str) -> list[str] | None:
    """The names of a ``Sequence(ClassLabel)`` tag feature, or None for string tags."""
    inner = getattr(dataset.features[tag_field], "feature", None)
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def standardize(
    dataset: datasets.Dataset, config: DataConfig, origin: str, *, with_tags: bool = True
) -> datasets.Dataset:
    """Rename/convert a table's token and tag fields to ``tokens`` / ``tags`` lists of str; a
    ``document`` field is kept (as str; None: a document of its own)."""
    token_field = _pick_field(dataset, config.token_column, _TOKEN_FIELDS, origin, "token_column")
    tag_field = None
    if with_tags:
        tag_field = _pick_field(dataset, config.tag_column, _TAG_FIELDS, origin, "tag_column")
    names = _tag_names(dataset, tag_field) if tag_field else None

    def convert(batch: dict, indices: list[int]) -> dict:
        out = {"tokens": [_as_list(value) for value in batch[token_field]]}
        for row, tokens in zip(indices, out["tokens"]):
            if any(not str(token).strip() for token in tokens):
                raise DataError(f"{origin} row {row + 1}: empty token")
        if tag_field:
            tags = [_as_list(value) for value in batch[tag_field]]
            out["tags"] = [_tag_strings(row, names, origin, index) for row, index in zip(tags, indices)]
        if DOCUMENT_COLUMN in batch:  # any value: rows next to each other with equal ones are a document
            out[DOCUMENT_COLUMN] = [None if value is None else str(value) for value in batch[DOCUMENT_COLUMN]]
        return out

    return map_batched(dataset, convert, with_indices=True, remove_columns=dataset.column_names)


def _tag_strings(tags: list, names: list[str] | None, origin: str, row: int) -> list[str]:
    """Tags as strings; ClassLabel ids go through their names (and must be in range)."""
    if names is None:
        strings = [str(tag) for tag in tags]
        if not all(tag.strip() for tag in strings):
            raise DataError(f"{origin} row {row + 1}: empty tag")
        return strings
    for tag in tags:
        if not 0 <= tag < len(names):
            raise DataError(f"{origin} row {row + 1}: tag id {tag} outside the {len(names)} ClassLabel names")
    return [names[tag] for tag in tags]


def _as_list(value) -> list[str]:
    """Tables store a sentence as a list, or (csv) as one whitespace-separated string."""
    if isinstance(value, str):
        return value.split()
    return [] if value is None else list(value)


def load_corpus(config: DataConfig, only: str | None = None) -> Corpus:
    """Load the configured splits; carve a validation split out of train if asked to.

    With ``only``, local files other than that split (and train, when validation is carved out
    of it) are not read: ``evaluate --split test`` need not parse the training file.
    """
    if sum(bool(source) for source in (config.hub, config.disk, config.train)) != 1:
        raise DataError("data: set exactly one of data.hub, data.disk or data.train")
    if isinstance(config.train, list):
        raise DataError("data.train: a list of files is read by the cloze task only; give a tagger one file")
    if config.hub or config.disk:
        loaded, origins = load_split_dict(config)
        standardized = {split: standardize(dataset, config, origins[split]) for split, dataset in loaded.items()}
        corpus = Corpus(datasets.DatasetDict(standardized), origins)
    else:
        paths = {split: getattr(config, split) for split in SPLITS if getattr(config, split)}
        if only is not None:
            # Validation carved out of train needs train read; every other split is one file.
            needed = {only, "train"} if only == "validation" and "validation" not in paths else {only}
            paths = {split: path for split, path in paths.items() if split in needed}
        corpus = Corpus(
            datasets.DatasetDict({split: _read_split(split, path, config) for split, path in paths.items()}),
            {split: str(path) for split, path in paths.items()},
        )
    if config.validation_fraction > 0 and "validation" not in corpus.splits and "train" in corpus.splits:
        corpus.splits["train"], corpus.splits["validation"] = carve_validation(corpus.splits["train"], config)
        corpus.origins["validation"] = f"{corpus.origins['train']} (held-out part)"
    if only is not None and only not in corpus.splits:
        have = list(corpus.splits) if not config.train else [s for s in SPLITS if getattr(config, s)]
        if config.validation_fraction > 0 and "validation" not in have:
            have.append("validation")
        raise DataError(f"no {only!r} split in the run's data (have: {', '.join(have)})")
    return corpus


def _read_split(split: str, path: str, config: DataConfig) -> datasets.Dataset:
    """:func:`read_file` for the file of ``data.<split>``; its errors say which split failed."""
    try:
        return read_file(path, config, key=f"data.{split}")
    except DataError as error:
        raise SplitError(str(error), split) from None


def carve_validation(train: datasets.Dataset, config: DataConfig) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Split ``data.validation_fraction`` of the training rows off as a validation split."""
    try:
        parts = train.train_test_split(test_size=config.validation_fraction, seed=0)
    except ValueError as error:
        raise DataError(f"data.validation_fraction={config.validation_fraction}: {first_line(error)}") from None
    return parts["train"], parts["test"]


def _load_hub(config: DataConfig) -> datasets.DatasetDict:
    # A local folder given as data.hub is keyed by mtime like a local file; hub ids by revision.
    load = load_fresh if Path(config.hub).is_dir() else datasets.load_dataset
    try:
        return load(config.hub, name=config.hub_config)
    except Exception as error:  # offline, unknown id, missing config name...
        raise DataError(f"data.hub={config.hub!r}: cannot load: {first_line(error)}") from None


def _load_disk(folder: str) -> datasets.DatasetDict:
    if not Path(folder).exists():
        raise DataError(f"{folder}: folder not found (data.disk)")
    try:
        loaded = datasets.load_from_disk(folder)
    except Exception as error:
        raise DataError(f"{folder}: not a save_to_disk folder: {first_line(error)}") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    return loaded


def load_split_dict(config: DataConfig) -> tuple[dict[str, datasets.Dataset], dict[str, str]]:
    """The train/validation/test splits of a hub dataset or ``save_to_disk`` folder (``dev`` and
    ``valid`` count as validation), and each split's origin for messages."""
    loaded = _load_hub(config) if config.hub else _load_disk(config.disk)
    origin = f"hub:{config.hub}" if config.hub else config.disk
    if "train" not in loaded:
        raise DataError(f"{origin}: no 'train' split (found: {', '.join(loaded)})")
    aliases = {"dev": "validation", "valid": "validation"}
    splits, origins = {}, {}
    for name, dataset in loaded.items():
        split = aliases.get(name, name)
        if split in SPLITS:
            splits[split], origins[split] = dataset, f"{origin}/{name}"
    return splits, origins
