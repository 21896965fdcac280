"""Exceptions that carry a one-line, user-facing message.

Library code raises these; only the CLI turns them into a message and an exit code.
"""


class BirnnTagError(Exception):
    """A problem the user can fix: bad config, bad data file, wrong checkpoint."""


class ConfigError(BirnnTagError):
    """An invalid, unknown or mistyped configuration key."""


class DataError(BirnnTagError):
    """A malformed or unusable data file; the message names the file and line."""


class CheckpointError(BirnnTagError):
    """A checkpoint that is missing, corrupt, or not written by birnn-tag."""
