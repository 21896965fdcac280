"""Reading corpora: CoNLL columns, CoNLL-U, Hugging Face datasets and files as named splits, and tokenizing raw text."""
