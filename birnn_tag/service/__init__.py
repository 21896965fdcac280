"""``birnn-tag serve``: a trained or exported model behind an HTTP JSON API (FastAPI on uvicorn,
the optional ``[serve]`` extra), with concurrent requests tagged together."""
