"""Text in any script becomes the tokens a user expects, with exact offsets, and a run tokenizes
text at prediction as its ``data.tokenizer`` says (recorded with the run; old runs keep theirs)."""

from __future__ import annotations

import unicodedata

import pytest
import yaml

import birnn_tag
from birnn_tag.config import config_from_dict, load_config
from birnn_tag.data.reading.tokenize import tokenize, tokenizer_for
from birnn_tag.errors import ConfigError
from conftest import tiny_config_dict

INVISIBLE = "\u200b\u200e\u200f\u202a\u202c\u2066\u2069\u00ad\u2060\ufeff"


def tokens(text: str) -> list[str]:
    found, offsets = tokenize(text)
    for token, (start, end) in zip(found, offsets):
        # Offsets index the text as given; only invisible characters are left out of a token.
        assert "".join(c for c in text[start:end] if c not in INVISIBLE) == token, (text, token, start, end)
    return found


def test_english_is_split_ptb_style():
    assert tokens("The U.S. said it can't pay $1,000.5 at 12:30, John's Italian-born O'Neil...") == [
        "The", "U.S.", "said", "it", "ca", "n't", "pay", "$", "1,000.5", "at", "12:30", ",", "John", "'s",
        "Italian-born", "O'Neil", "...",
    ]


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_accented_latin_keeps_its_marks_in_either_normal_form(form):
    text = unicodedata.normalize(form, "José Muñoz visitó Málaga.")
    assert tokens(text) == unicodedata.normalize(form, "José|Muñoz|visitó|Málaga|.").split("|")


def test_devanagari_thai_and_cjk():
    assert tokens("हिन्दी भाषा में") == ["हिन्दी", "भाषा", "में"]
    # No spaces between Thai words: a run stays whole (never cut inside a word); spacy:th splits words.
    assert tokens("ภาษาไทย ดีมาก") == ["ภาษาไทย", "ดีมาก"]
    assert tokens("東京に行った iPhone") == ["東", "京", "に", "行", "っ", "た", "iPhone"]
    assert tokens("서울에 갔다") == ["서울에", "갔다"]


def test_typographic_apostrophes_are_clitics_and_names():
    assert tokens("John’s car, don’t, O’Neil’s") == ["John", "’s", "car", ",", "do", "n’t", ",", "O’Neil", "’s"]


def test_emoji_sequences_are_one_token_each():
    assert tokens("family 👨‍👩‍👧 flag 🇩🇪🇫🇷 ok 👍🏽!") == ["family", "👨‍👩‍👧", "flag", "🇩🇪", "🇫🇷", "ok", "👍🏽", "!"]


def test_zero_width_and_bidi_characters_are_no_tokens_and_offsets_stay_exact():
    text = "\ufeffAnna\u200bBerg \u200fשלום\u200e in\u00adside \u2066Oslo\u2069 \u200b ."
    found, offsets = tokenize(text)
    assert found == ["Anna", "Berg", "שלום", "inside", "Oslo", "."]
    assert [text[start:end] for start, end in offsets] == ["Anna", "Berg", "שלום", "in\u00adside", "Oslo", "."]
    # Joiners stay inside words (Persian, Indic), where they change how letters join.
    assert tokens("می\u200cخواهم") == ["می\u200cخواهم"]


def test_spacy_tokenizer_for_a_language():
    pytest.importorskip("spacy")
    found, offsets = tokenizer_for("spacy:de")("Die Straße, sagte Jörg.")
    assert found == ["Die", "Straße", ",", "sagte", "Jörg", "."]
    assert offsets[1] == (4, 10)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("tokenizer", "nltk", r"data.tokenizer: unknown tokenizer 'nltk' \(expected one of default, whitespace, spacy:<lang>\)"),
        ("encoding", "latin-42", r"data.encoding: unknown encoding 'latin-42' \(e.g. utf-8, latin-1, cp1252, utf-16\)"),
    ],
)
def test_an_unknown_tokenizer_or_encoding_is_refused_naming_the_key(tmp_path, tiny_conll, key, value, message):
    raw = tiny_config_dict(tiny_conll, tmp_path / "run")
    raw["data"][key] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two taggers trained on the tiny fixture, one per tokenizer."""
    from conftest import FIXTURES

    folder = tmp_path_factory.mktemp("tokenizers")
    made = {}
    for name in ("default", "whitespace"):
        raw = tiny_config_dict(FIXTURES / "tiny.conll", folder / name, epochs=2)
        raw["data"]["tokenizer"] = name
        made[name] = birnn_tag.train(config_from_dict(raw))
    return made


def test_prediction_tokenizes_text_with_the_runs_recorded_tokenizer(runs, tmp_path):
    text = "Anna’s car (Oslo)"
    tagged = {name: birnn_tag.load(run, device="cpu").tag([text])[0] for name, run in runs.items()}
    assert tagged["default"].tokens == ["Anna", "’s", "car", "(", "Oslo", ")"]
    assert tagged["whitespace"].tokens == ["Anna’s", "car", "(Oslo)"]
    assert yaml.safe_load((runs["whitespace"] / "config.yaml").read_text())["data"]["tokenizer"] == "whitespace"
    # An export reads the run's config, so its runtime tokenizes the same way.
    pytest.importorskip("onnxruntime")
    from birnn_tag.tagging.onnx.export import export_model
    from birnn_tag.runs.loading import load_model

    exported = export_model(load_model(runs["whitespace"], device="cpu"), tmp_path / "export")
    assert birnn_tag.load(exported).tag([text])[0].tokens == tagged["whitespace"].tokens
