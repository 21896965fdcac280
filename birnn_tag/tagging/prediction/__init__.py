"""Tagging new text: PyTorch decoding of encoded pieces, and the torch-free stream that reads, cuts, tags and formats sentences."""
