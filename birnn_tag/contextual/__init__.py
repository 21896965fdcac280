"""Contextual word features from pretrained encoders, frozen or fine-tuned."""
