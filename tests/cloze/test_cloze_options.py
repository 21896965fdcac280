"""The cloze command-line options --choices and --blank: values that cannot work are refused."""

import io

import pytest

from birnn_tag.cli.prediction import parse_choices
from birnn_tag.cloze.prediction import read_queries
from birnn_tag.errors import BirnnTagError


def test_choices_are_comma_separated_words():
    assert parse_choices(" ideas, cars ,,eggs ") == ["ideas", "cars", "eggs"]
    assert parse_choices(None) is None  # no option: rank the whole vocabulary


@pytest.mark.parametrize("text", [",,,", "", " , "])
def test_choices_without_a_word_are_refused(text):
    with pytest.raises(BirnnTagError, match=rf"^--choices: no words in {text!r}; expected comma-separated words"):
        parse_choices(text)


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_marker_without_a_visible_character_is_refused(blank):
    queries = read_queries(io.BytesIO(b"tom writes ___ down\n"), "<stdin>", "text", blank, str.split, None)
    with pytest.raises(BirnnTagError, match=rf"^--blank: {blank!r} cannot mark a blank"):
        next(queries)
