"""Frozen contextual features of a split, computed once and kept on disk.

A frozen transformer or language model gives a sentence the same features in every epoch, and
running it costs far more than the BiLSTM-CRF on top. So a split's features are computed once,
in length-sorted batches, into one memory-mapped fp16 array (tokens, layers, dim) in the
``datasets`` cache (``HF_DATASETS_CACHE``), keyed by the source (its model's checksum, layers
and pooling) and a hash of the split's tokens: later epochs, later seeds and later runs on the
same data read them back, and only the pages a batch touches are read into memory. fp16 halves
the file and keeps ~3 significant digits, far finer than the features' own noise across seeds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

SENTENCES_PER_CALL = 64  # sentences given to a source at once; it batches its own work within
# Part of every key: raise it when a change to the feature code changes what a source computes,
# so that files computed before are never read again.
FEATURES_VERSION = 1


def cache_folder() -> Path:
    """Where feature files go: ``birnn-tag-features`` in the ``datasets`` cache."""
    from datasets import config

    return Path(os.environ.get("HF_DATASETS_CACHE") or config.HF_DATASETS_CACHE) / "birnn-tag-features"


def content_key(source_key: dict, sentences: list[list[str]]) -> str:
    """A hex digest of the source's identity and the sentences' tokens."""
    digest = hashlib.sha256(json.dumps({"version": FEATURES_VERSION, **source_key}, sort_keys=True).encode())
    for tokens in sentences:
        digest.update("\x1f".join(tokens).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def cached_features(source: nn.Module, sentences: list[list[str]]) -> list[torch.Tensor]:
    """Each sentence's (length, layers, dim) fp16 features from ``source`` (which has
    ``cache_key()``, ``num_layers``, ``dim`` and maps token lists to padded (batch, time, layers,
    dim) features), read from the cache or computed and written there first."""
    path = cache_folder() / f"{content_key(source.cache_key(), sentences)}.npy"
    lengths = [len(tokens) for tokens in sentences]
    starts = np.cumsum([0] + lengths)
    if not path.is_file():
        logger.info("computing contextual features of %d sentences into %s", len(sentences), path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A file of its own per process, renamed when complete: runs sharing the cache (seeds
        # trained in parallel) never read a half-written table.
        temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        try:
            _compute(source, sentences, starts, temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    # Copy-on-write: tensors over it are writable in memory (torch wants that), the file never changes.
    table = np.load(path, mmap_mode="c")
    if table.shape != (starts[-1], source.num_layers, source.dim):
        raise RuntimeError(f"{path}: holds {table.shape} features, expected {(starts[-1], source.num_layers, source.dim)}")
    features = torch.from_numpy(table)
    return [features[start:end] for start, end in zip(starts[:-1], starts[1:])]


def _compute(source: nn.Module, sentences: list[list[str]], starts: np.ndarray, path: Path) -> None:
    table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(int(starts[-1]), source.num_layers, source.dim))
    order = sorted(range(len(sentences)), key=lambda row: len(sentences[row]))  # little padding per call
    for first in range(0, len(order), SENTENCES_PER_CALL):
        rows = order[first : first + SENTENCES_PER_CALL]
        with torch.no_grad():
            features = source([sentences[row] for row in rows]).to("cpu", torch.float16).numpy()
        for position, row in enumerate(rows):
            table[starts[row] : starts[row + 1]] = features[position, : len(sentences[row])]
    table.flush()
    del table
