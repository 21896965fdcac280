"""Model layer: token embedder → BiLSTM encoder → output head. No file I/O, no printing."""
