"""The tagger as a network: embedder → BiRNN encoder → softmax or CRF head, the scheme's allowed transitions, and the temperature fit."""
