"""birnn-tag: stacked bidirectional-LSTM sequence taggers driven by YAML configs."""

__version__ = "0.1.0"
