"""Sharing models on the Hugging Face Hub: ``hf://ORG/NAME[@REVISION][/FOLDER]`` names resolved to
downloaded folders (names), the folder ``birnn-tag push`` uploads (staging) with its model card
(card), and the upload itself (upload). huggingface_hub and safetensors are the ``[hub]`` extra,
imported only when a hub name or a push needs them."""
