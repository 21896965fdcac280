"""What ``birnn_tag.load`` returns for a tagger: the backend-free base (tag, stream) and the PyTorch model."""
