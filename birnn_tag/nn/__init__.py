"""Shared network parts: recurrent kernels, dropout, embeddings, the BiLSTM encoder. No file I/O, no printing."""
