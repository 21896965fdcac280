"""Tagging data: tag schemes, cleaning a corpus into the training scheme, and config → encoded splits."""
