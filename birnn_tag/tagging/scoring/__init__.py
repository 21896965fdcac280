"""Scoring a tagger: decode and score a split, span and label scores, calibration error, error analysis, the reports."""
