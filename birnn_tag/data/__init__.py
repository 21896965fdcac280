"""Data layer: sources → prepared splits → vocabularies → encoded tensors → batches."""
