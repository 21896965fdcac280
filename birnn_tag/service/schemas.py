"""The service's wire format as pydantic models: what ``POST /tag`` and ``POST /fill`` take (FastAPI
validates each request against them) and what they answer (documented on the OpenAPI page,
``/docs``), and :func:`refusal`, which words a failed validation as the one line the service answers.

The answers' records are built by the models (``to_record``), exactly as ``predict --format jsonl``
writes them; the response models here describe them for the OpenAPI page, and the tests check
real answers against them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from birnn_tag.errors import short_repr


def _encodable(text: str) -> str:
    """``text``, if it can be written back as UTF-8: JSON's ``\\ud800`` escapes decode to lone
    surrogates, which no answer could hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise PydanticCustomError(
            "lone_surrogate", "not valid Unicode: a lone surrogate {char} at character {start}",
            {"char": repr(text[error.start]), "start": error.start},
        ) from None
    return text


def _one_word(token: str) -> str:
    """``token``, if it is one word: ``predict --pretokenized`` splits lines at whitespace, so no
    token it reads holds any."""
    if not token.strip():
        raise PydanticCustomError("empty_token", "empty token")
    if token.split() != [token]:
        raise PydanticCustomError(
            "whitespace_in_token", "whitespace in token {token}; send each word as a token", {"token": short_repr(token)}
        )
    return token


def _words(choices: list[str]) -> list[str]:
    if not choices or not all(word.strip() for word in choices):
        raise PydanticCustomError("empty_words", "expected non-empty words")
    return choices


Text = Annotated[str, AfterValidator(_encodable)]
Token = Annotated[Text, AfterValidator(_one_word)]


class TagRequest(BaseModel):
    """``POST /tag``: exactly one of ``texts`` and ``tokens``."""

    model_config = ConfigDict(extra="forbid")

    # Optional but not nullable (a default that is not validated): null is a wrong type, as before.
    texts: list[Text] = Field(None, description="Lines of text, tokenized as `predict` tokenizes them.")
    tokens: list[list[Token]] = Field(
        None, description="Sentences already split into tokens: each a non-empty string without whitespace."
    )
    documents: bool = Field(
        False, strict=True,
        description="Each text is a document or paragraph: split into sentences, one result per text with offsets into it.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> TagRequest:
        if (self.texts is None) == (self.tokens is None):
            raise PydanticCustomError("texts_or_tokens", "expected exactly one of the fields texts or tokens")
        if self.documents and self.texts is None:
            raise PydanticCustomError("documents_texts", "documents: applies to texts, not tokens")
        return self


class FillRequest(BaseModel):
    """``POST /fill``: lines with blanks, and what to propose for each blank."""

    model_config = ConfigDict(extra="forbid")

    # The description is also what a request without texts is told it lacks.
    texts: list[Text] = Field(description="a list of strings with blanks (___ or [MASK])")
    top_k: int = Field(10, ge=1, le=10_000, strict=True, description="How many of the most probable words to propose.")
    choices: Annotated[list[Text], AfterValidator(_words)] | None = Field(
        None, description="Words to rank instead of the whole vocabulary (not `<pad>` or `<unk>`), or null."
    )


class Refusal(BaseModel):
    """A refused request: one line naming the field (``texts[1]: expected a string, got int``)."""

    error: str


class _Record(BaseModel):
    # Closed, so that the tests comparing real answers with these models notice any new field.
    model_config = ConfigDict(extra="forbid")


class Span(_Record):
    """An entity: character offsets ``start:end`` into the text, token offsets ``token_start:token_end``."""

    type: str
    start: int
    end: int
    text: str
    token_start: int
    token_end: int
    confidence: float | None = Field(None, description="The product of its tokens' confidences.")


class TagRecord(_Record):
    """One sentence's prediction, as ``predict --format jsonl`` writes it."""

    text: str
    tokens: list[str]
    tags: list[str]
    confidences: list[float] | None = Field(None, description="Each tag's probability, to 4 decimals.")
    spans: list[Span] | None = Field(None, description="Absent when the labels mark no spans (`data.scheme: none`).")


class TagResponse(_Record):
    """``POST /tag``'s answer: a record per text or sentence, in order."""

    results: list[TagRecord]


class Candidate(_Record):
    """A word for a blank and its probability (null for a choice outside the vocabulary)."""

    word: str
    prob: float | None
    in_vocabulary: bool | None = Field(None, description="Present when choices were given.")


class Blank(_Record):
    """A blank's token position in the line and its candidates, best first."""

    position: int
    candidates: list[Candidate]


class FillRecord(_Record):
    """One line's answer, as ``predict`` writes it for a cloze model; a line that cannot be used
    has an ``error`` instead of tokens, blanks and the filled line."""

    line: int
    text: str
    tokens: list[str] | None = None
    blanks: list[Blank] | None = None
    filled: str | None = None
    error: str | None = None


class FillResponse(_Record):
    """``POST /fill``'s answer: a record per line, in order."""

    results: list[FillRecord]


def refusal(error: ErrorDetails, request: type[BaseModel]) -> tuple[int, str]:
    """The status and the one line ``{"error": ...}`` of a request whose body failed to validate
    as ``request``, from the validation's ``error`` (FastAPI's, located in ``body``): the field
    named as ``tokens[0][1]`` (``body`` for the whole), what it expected and what it got."""
    kind, where, value = error["type"], error["loc"][1:], error["input"]
    if kind == "missing" and not where:
        return 400, "body: empty; send a JSON object"
    if kind == "model_attributes_type" or (kind == "model_type" and not where):
        return 422, f"body: expected a JSON object, got {type(value).__name__}"
    schema = _schema(request)
    if kind == "extra_forbidden":
        return 422, f"{short_repr(where[-1])}: unknown field; expected {', '.join(schema['properties'])}"
    field = "".join(f"[{part}]" if isinstance(part, int) else part for part in where) or "body"
    if kind == "missing":
        return 422, f"{field}: missing; expected {_field_schema(schema, where)['description']}"
    if kind.endswith("_type") or kind in ("greater_than_equal", "less_than_equal"):
        expected = _field_schema(schema, where)
        got = short_repr(value) if expected.get("type") == "integer" else type(value).__name__
        return 422, f"{field}: expected {_describe(expected)}, got {got}"
    return 422, f"{field}: {error['msg']}"  # this module's validators say it in the service's words


@functools.cache
def _schema(request: type[BaseModel]) -> dict[str, Any]:
    return request.model_json_schema()


def _field_schema(schema: dict[str, Any], where: Sequence[str | int]) -> dict[str, Any]:
    """The JSON schema of the value at ``where`` (field names and list indices) in ``schema``."""
    for part in where:
        schema = schema["items"] if isinstance(part, int) else schema["properties"][part]
        schema = next((option for option in schema.get("anyOf", ()) if option.get("type") != "null"), schema)
    return schema


def _describe(schema: dict[str, Any]) -> str:
    """What a JSON schema accepts, in words: ``a list of lists of strings``, ``an integer from 1 to 10000``."""
    if schema.get("type") == "array":
        return f"a list of {_plural(schema['items'])}"
    if schema.get("type") == "integer":
        return f"an integer from {schema['minimum']} to {schema['maximum']}"
    return "a string"


def _plural(schema: dict[str, Any]) -> str:
    return f"lists of {_plural(schema['items'])}" if schema.get("type") == "array" else "strings"
