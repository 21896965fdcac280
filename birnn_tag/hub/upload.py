"""Uploading a staged folder (:mod:`birnn_tag.hub.staging`) to a model repository on the Hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from birnn_tag.errors import BirnnTagError, first_line
from birnn_tag.version import __version__


@dataclass(frozen=True)
class Pushed:
    """What :func:`birnn_tag.push` did. ``folder``: the staged folder when it was kept
    (``stage``), else None; ``url`` (the repository's), ``commit`` (the new commit's id) and
    ``revision`` (the branch written): None when the folder was only staged."""

    repo_id: str
    folder: Path | None
    url: str | None = None
    commit: str | None = None
    revision: str | None = None


def upload(folder: Path, repo_id: str, *, revision: str | None = None, private: bool = False, token: str | None = None) -> Pushed:
    """Create the model repository ``repo_id`` when it is missing (``private`` then decides its
    visibility; an existing repository keeps its own), the branch ``revision`` when it is
    missing (from main), and commit ``folder`` to it: the revision then holds exactly the
    folder's files (and the Hub's ``.gitattributes``). ``token``: None uses the login
    (``hf auth login``) or ``HF_TOKEN``."""
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="birnn-tag", library_version=__version__)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=folder, revision=revision, delete_patterns="*",
            commit_message=f"Upload a birnn-tag {__version__} model",
        )
    except Exception as error:  # HTTP, connection and authentication errors alike become one line
        raise BirnnTagError(f"{repo_id}: the upload to the Hugging Face Hub failed: {first_line(error)}{_hint(error)}") from None
    return Pushed(repo_id, None, str(url), commit.oid, revision or "main")


def _hint(error: Exception) -> str:
    from huggingface_hub.errors import HfHubHTTPError

    status = error.response.status_code if isinstance(error, HfHubHTTPError) and error.response is not None else None
    return " (log in with hf auth login, or set HF_TOKEN to a token that may write)" if status in (401, 403) else ""
