"""Shared data layer: sources and readers → vocabularies → encoded sentences → batches."""
