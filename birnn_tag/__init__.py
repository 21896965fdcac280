"""birnn-tag: stacked bidirectional-LSTM sequence taggers driven by YAML configs."""

import os

# Every batch has a different shape, and oneDNN caches a primitive (with its scratch memory) per
# shape: on CoNLL-2003 that cache alone grew training RSS by ~200 MB with no speed gain
# (docs/benchmarks.md). Must be set before torch initialises oneDNN; users can still override it.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0")

__version__ = "0.1.0"
