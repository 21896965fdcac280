"""Models on the Hugging Face Hub, named as the Hub names files: ``hf://ORG/NAME`` (the
repository's main branch), ``hf://ORG/NAME@REVISION`` (a branch, tag or commit) and
``hf://ORG/NAME[@REVISION]/FOLDER`` (a folder in it, such as the ``onnx`` export a push may add).

Wherever a run folder is accepted (:func:`birnn_tag.load`, so every command that takes a run)
such a name is downloaded with ``huggingface_hub.snapshot_download`` into the Hub's cache, or
found there: with ``HF_HUB_OFFLINE=1`` only the cache is read. A command-line argument typed as a
``Path`` arrives as ``hf:/ORG/NAME`` (a path collapses ``//``), so both spellings are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from birnn_tag.errors import BirnnTagError, first_line
from birnn_tag.version import __version__

PREFIX = "hf://"
FORM = "hf://ORG/NAME[@REVISION][/FOLDER]"
EXTRA = "pip install 'birnn-tag[hub]'"


@dataclass(frozen=True)
class HubName:
    """A parsed hub name: ``revision`` None is the main branch, ``folder`` "" the repository's root."""

    repo_id: str
    revision: str | None = None
    folder: str = ""

    def __str__(self) -> str:
        text = PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")
        return text + (f"/{self.folder}" if self.folder else "")


def is_hub_name(path: str | Path) -> bool:
    """Whether ``path`` is a hub name (``hf://...``, or ``hf:/...`` as a ``Path`` makes it)."""
    return str(path).startswith("hf:/")


def parse_hub_name(text: str | Path) -> HubName:
    """``text`` (see the module docstring) parsed by huggingface_hub's own ``hf://`` grammar;
    anything else, or a dataset's or space's name, is refused in one line."""
    _require()
    from huggingface_hub.errors import HfUriError
    from huggingface_hub.utils import parse_hf_uri

    uri = str(text)
    if not uri.startswith(PREFIX):
        uri = PREFIX + uri[len("hf:/") :]
    try:
        parsed = parse_hf_uri(uri)
    except HfUriError as error:
        raise BirnnTagError(f"{uri}: not a model name on the Hugging Face Hub ({error.msg.strip()}); expected {FORM}") from None
    if parsed.type != "model":
        raise BirnnTagError(f"{uri}: names a {parsed.type}, not a model; expected {FORM}")
    return HubName(parsed.id, parsed.revision, parsed.path_in_repo.strip("/"))


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` (``ORG/NAME``, or ``NAME`` in the account's own namespace) when the Hub
    accepts it as a model repository's id."""
    _require()
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise BirnnTagError(f"{repo_id}: not a repository id ({first_line(error)}); expected ORG/NAME") from None
    return repo_id


def resolve(path: str | Path) -> str | Path:
    """The local folder of a hub name (downloaded, or from the cache), or ``path`` as it is."""
    return download(parse_hub_name(path)) if is_hub_name(path) else path


def download(name: HubName) -> Path:
    """The folder ``name`` names, in the Hub's cache: only its ``folder`` is downloaded when it
    names one. Raises a one-line :class:`BirnnTagError` naming the repository and why."""
    from huggingface_hub import snapshot_download

    patterns = [f"{name.folder}/*"] if name.folder else None
    try:
        snapshot = snapshot_download(
            name.repo_id, revision=name.revision, allow_patterns=patterns, library_name="birnn-tag", library_version=__version__
        )
    except Exception as error:  # the network's, the Hub's and the cache's errors alike become one line
        raise BirnnTagError(f"{name}: cannot fetch it from the Hugging Face Hub: {_why(error)}") from None
    folder = Path(snapshot) / name.folder
    if not folder.is_dir():
        raise BirnnTagError(f"{name}: the repository has no folder {name.folder!r}")
    return folder


def _why(error: Exception) -> str:
    """Why ``snapshot_download`` failed, in words a user can act on."""
    from huggingface_hub import is_offline_mode
    from huggingface_hub.errors import (
        GatedRepoError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(error, GatedRepoError):
        return "the repository is gated: accept its conditions on huggingface.co, then log in (hf auth login, or HF_TOKEN)"
    if isinstance(error, RepositoryNotFoundError):
        return "no such model repository, or it is private (log in: hf auth login, or HF_TOKEN)"
    if isinstance(error, RevisionNotFoundError):
        return "the repository has no such revision"
    if isinstance(error, IncompleteSnapshotError):
        return "the cached copy is incomplete and the Hub cannot be reached"
    if isinstance(error, LocalEntryNotFoundError):
        if is_offline_mode():
            return "not in the local cache, and HF_HUB_OFFLINE=1 forbids downloading"
        return "huggingface.co cannot be reached, and it is not in the local cache"
    return first_line(error)


def _require() -> None:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise BirnnTagError(f"hf:// names and birnn-tag push need huggingface_hub: {EXTRA}") from None
