"""The command line: one module per command family over the public API; it alone prints (with the service)."""
