"""Reading CoNLL-U: comments, multiword token ranges and empty nodes skipped, columns by name or
index, errors naming file and line."""

from __future__ import annotations

import shutil

import pytest

from birnn_tag.config import config_from_dict
from birnn_tag.data.reading.sources import file_format, read_file
from birnn_tag.errors import DataError

from conftest import FIXTURES


def read(path, **data):
    config = config_from_dict({"data": {"train": str(path), **data}}).data
    return read_file(path, config)


@pytest.fixture
def conllu(tmp_path):
    target = tmp_path / "ud.conllu"
    shutil.copy(FIXTURES / "tiny.conllu", target)
    return target


def test_words_and_upos_by_default(conllu):
    assert file_format(conllu) == "conllu"
    dataset = read(conllu)
    assert dataset["tokens"] == [
        ["The", "cat", "sat", "on", "the", "mat", "."],
        ["Anna", "reads", "de", "le", "pain", "."],  # the range 3-4 "du" is skipped, its words kept
        ["We", "saw", "cars", "and", "he", "buses", "."],  # the empty node 5.1 is skipped
    ]
    assert dataset["tags"][1] == ["PROPN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]
    assert dataset["line"] == [4, 14, 24]  # each sentence's first word, after its comments


@pytest.mark.parametrize(
    "column,expected",
    [("xpos", ["NNP", "VBZ", "IN", "DT", "NN", "."]), ("FEATS", ["_", "Tense=Pres", "_", "_", "Number=Sing", "_"]),
     ("deprel", ["nsubj", "root", "case", "det", "obj", "punct"]), (2, ["Anna", "read", "de", "le", "pain", "."]),
     (-3, ["nsubj", "root", "case", "det", "obj", "punct"])],
)
def test_tag_column_by_name_or_index(conllu, column, expected):
    assert read(conllu, tag_column=column)["tags"][1] == expected


def test_lemmas_as_tokens(conllu):
    assert read(conllu, token_column="lemma")["tokens"][0][2] == "sit"


def test_format_setting_reads_any_file_name(tmp_path, conllu):
    renamed = tmp_path / "ud.txt"
    shutil.copy(conllu, renamed)
    assert read(renamed, format="conllu")["tokens"][0][0] == "The"


@pytest.mark.parametrize(
    "line,message",
    [
        ("8\tx\tx\tX\n", ":11: expected 10 tab-separated columns (CoNLL-U), found 4"),
        ("x\tx\tx\tX\t_\t_\t0\tdep\t_\t_\n", ":11: invalid word ID 'x'"),
        ("8\t \tx\tX\t_\t_\t0\tdep\t_\t_\n", ":11: empty form"),
        ("8\tx\tx\t\t_\t_\t0\tdep\t_\t_\n", ":11: empty upos"),
    ],
)
def test_bad_lines_name_file_and_line(conllu, line, message):
    lines = conllu.read_text().splitlines(keepends=True)
    lines.insert(10, line)  # line 11: the end of the first sentence, before its blank line
    conllu.write_text("".join(lines))
    with pytest.raises(DataError) as error:
        read(conllu)
    assert str(error.value) == f"{conllu}{message}"


def test_unknown_column_names_the_file_and_the_choices(conllu):
    with pytest.raises(DataError, match=r"ud.conllu: data.tag_column: CoNLL-U has no column 'deprl'; expected one of id, form"):
        read(conllu, tag_column="deprl")
    with pytest.raises(DataError, match=r"ud.conllu: data.tag_column=10: CoNLL-U has 10 columns"):
        read(conllu, tag_column=10)


def test_comments_only_is_an_empty_file(tmp_path):
    path = tmp_path / "empty.conllu"
    path.write_text("# just a comment\n\n")
    with pytest.raises(DataError, match="no sentences found"):
        read(path)
