"""A tagger as an ONNX folder: the export (Viterbi inside the graph) and its onnxruntime model."""
