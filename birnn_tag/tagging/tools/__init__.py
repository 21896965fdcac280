"""Tools over tagging runs and data: compare runs (paired bootstrap) and check a config's data."""
