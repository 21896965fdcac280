"""Pretrained word vectors: formats, the ``wanted`` filter, the embedding matrix and one-line errors."""

import gzip
import math

import numpy as np
import pytest
import torch

from birnn_tag.data import pretrained
from birnn_tag.data.pretrained import embedding_matrix, pretrained_words, read_vectors
from birnn_tag.data.vocab import PAD, UNK, Vocab
from birnn_tag.errors import DataError

GLOVE = "the 0.1 0.2 0.3\nBerlin -1 2.5e-05 3\nberlin 4 5 6\ncafé 0.5 -0.5 1e2\n"
WORDS = ["the", "Berlin", "berlin", "café"]
VALUES = [[0.1, 0.2, 0.3], [-1.0, 2.5e-05, 3.0], [4.0, 5.0, 6.0], [0.5, -0.5, 100.0]]


def write(tmp_path, text: str, name: str = "vectors.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_glove(words, vectors):
    assert words == WORDS
    assert vectors.dtype == torch.float32
    assert torch.equal(vectors, torch.tensor(VALUES, dtype=torch.float32))


def test_reads_glove(tmp_path):
    assert_glove(*read_vectors(write(tmp_path, GLOVE)))


def test_reads_word2vec_header(tmp_path):
    assert_glove(*read_vectors(write(tmp_path, "4 3\n" + GLOVE)))


def test_reads_fasttext_trailing_spaces_and_windows_line_ends(tmp_path):
    fasttext = "4 3 \n" + "".join(line + " \n" for line in GLOVE.splitlines())
    assert_glove(*read_vectors(write(tmp_path, fasttext)))
    assert_glove(*read_vectors(write(tmp_path, GLOVE.replace("\n", "\r\n"), "crlf.txt")))


def test_blank_lines_byte_order_mark_and_no_final_newline(tmp_path):
    assert_glove(*read_vectors(write(tmp_path, "\ufeff" + GLOVE.replace("\n", "\n\n").rstrip("\n"))))


@pytest.mark.parametrize("name", ["vectors.txt.gz", "vectors.vec"])
def test_gzip_detected_by_magic_bytes_not_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(("4 3\n" + GLOVE).encode("utf-8")))
    assert_glove(*read_vectors(path))


def test_plain_text_named_gz(tmp_path):
    assert_glove(*read_vectors(write(tmp_path, GLOVE, "plain.txt.gz")))


def test_wanted_keeps_file_order_and_skips_the_rest(tmp_path):
    words, vectors = read_vectors(write(tmp_path, GLOVE), {"café", "the", "absent"})
    assert words == ["the", "café"]
    assert torch.equal(vectors, torch.tensor([VALUES[0], VALUES[3]]))
    words, vectors = read_vectors(write(tmp_path, GLOVE), set())
    assert words == [] and vectors.shape == (0, 3)


@pytest.mark.parametrize("bad_line", ["bad 1 2", "bad 1  2", "bad\t1 2", "bad  1 2 3 4"])
def test_unwanted_lines_are_still_checked(tmp_path, bad_line):
    path = write(tmp_path, GLOVE + bad_line + "\n")
    with pytest.raises(DataError, match=r"vectors.txt:5: expected 3 values after the word, found [24]"):
        read_vectors(path, {"the"})


def test_tabs_and_repeated_spaces_between_fields(tmp_path):
    text = GLOVE.replace("the 0.1 0.2", "the\t0.1  0.2").replace("berlin 4", "berlin  4")
    assert_glove(*read_vectors(write(tmp_path, text)))


def test_lines_split_across_blocks(tmp_path, monkeypatch):
    rows = [f"w{i}é {i} {-i} {i / 8}" for i in range(40)]
    path = write(tmp_path, "\n".join(rows) + "\n")
    whole = read_vectors(path)
    monkeypatch.setattr(pretrained, "_BLOCK_BYTES", 7)  # smaller than a line, splits "é" too
    words, vectors = read_vectors(path)
    assert words == whole[0] == [f"w{i}é" for i in range(40)]
    assert torch.equal(vectors, whole[1])
    assert vectors[39].tolist() == [39.0, -39.0, 39 / 8]
    (tmp_path / "bad.txt").write_text("\n".join(rows[:30] + ["w30 1 2"] + rows[31:]))
    with pytest.raises(DataError, match=r"bad.txt:31: expected 3 values after the word, found 2"):
        read_vectors(tmp_path / "bad.txt")


def test_numpy_parser_agrees_with_the_arrow_fast_path(tmp_path, monkeypatch):
    path = write(tmp_path, GLOVE + "odd +.5 -0 1e+05\nspecial nan -inf 1e400\n")
    fast = read_vectors(path)
    monkeypatch.setattr(pretrained, "_parse_with_arrow", lambda text, rows, dim: None)
    slow = read_vectors(path)
    assert fast[0] == slow[0]
    assert np.array_equal(fast[1].numpy(), slow[1].numpy(), equal_nan=True)
    assert fast[1][4].tolist() == [0.5, -0.0, 100000.0]
    assert math.isnan(fast[1][5, 0]) and fast[1][5, 1:].tolist() == [-math.inf, math.inf]


def test_pretrained_words(tmp_path):
    assert pretrained_words(write(tmp_path, "4 3\n" + GLOVE)) == set(WORDS)


@pytest.mark.parametrize(
    "text,message",
    [
        (GLOVE + "short 1 2\n", r"vectors.txt:5: expected 3 values after the word, found 2"),
        ("3 3\n" + GLOVE.replace("berlin 4 5 6", "berlin 4 5 6 7"), r"vectors.txt:4: expected 3 values .*found 4"),
        (GLOVE.replace("berlin 4", "berlin  4"), None),  # repeated spaces are fine ...
        (GLOVE.replace("berlin 4 5", "berlin  4"), r"vectors.txt:3: expected 3 values .*found 2"),  # ... miscounts not
        (GLOVE.replace("berlin 4 5 6", "berlin"), r"vectors.txt:3: expected 3 values .*found 0"),
        (GLOVE.replace("5 6", "5 x6"), r"vectors.txt:3: not a number: 'x6'"),
        (GLOVE.replace("5 6", "5 1,5"), r"vectors.txt:3: not a number: '1,5'"),
        ("word\n", r"vectors.txt:1: expected a word and its vector, found 1 field"),
        ("5 3\n" + GLOVE, r"vectors.txt: the header says 5 vectors but the file has 4"),
        ("400000 50\n", r"vectors.txt: no vectors found"),
        ("\n\n", r"vectors.txt: no vectors found"),
    ],
)
def test_malformed_files(tmp_path, text, message):
    path = write(tmp_path, text)
    if message is None:
        read_vectors(path)
        return
    with pytest.raises(DataError, match=message):
        read_vectors(path)


def test_non_utf8_names_line_and_byte(tmp_path, monkeypatch):
    path = tmp_path / "vectors.txt"
    path.write_bytes(GLOVE.encode("utf-8") + b"caf\xe9 1 2 3\n")
    with pytest.raises(DataError, match=r"vectors.txt:5: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        read_vectors(path, {"the"})
    monkeypatch.setattr(pretrained, "_BLOCK_BYTES", 5)
    with pytest.raises(DataError, match=r"vectors.txt:5: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        read_vectors(path)


def test_empty_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match=r"empty.txt: file is empty"):
        read_vectors(write(tmp_path, "", "empty.txt"))
    with pytest.raises(DataError, match=r"nope.txt: file not found"):
        read_vectors(tmp_path / "nope.txt")
    (tmp_path / "empty.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match=r"empty.gz: no vectors found"):
        read_vectors(tmp_path / "empty.gz")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(GLOVE.encode() * 50)[:60])
    with pytest.raises(DataError, match=r"cut.gz: cannot read: "):
        read_vectors(tmp_path / "cut.gz")


def vocabulary(*words: str) -> list[str]:
    return Vocab(words).items


def test_embedding_matrix_rows(tmp_path):
    path = write(tmp_path, GLOVE + "<unk> 9 9 9\nthe 7 7 7\n")
    items = vocabulary("the", "Berlin", "BERLIN", "Café", "zzz")
    matrix, found = embedding_matrix(items, path)
    assert matrix.shape == (7, 3) and matrix.dtype == torch.float32
    assert found == 4
    assert torch.equal(matrix[0], torch.zeros(3))  # <pad>
    assert matrix[1].abs().max() <= math.sqrt(3 / 3) and matrix[1].tolist() != [9.0, 9.0, 9.0]  # <unk>: random
    assert matrix[2].tolist() == pytest.approx(VALUES[0])  # first "the" wins over the duplicate
    assert matrix[3].tolist() == pytest.approx(VALUES[1])  # exact "Berlin" before "berlin"
    assert matrix[4].tolist() == pytest.approx(VALUES[2])  # "BERLIN" -> "berlin"
    assert matrix[5].tolist() == pytest.approx(VALUES[3])  # "Café" -> "café"


def test_embedding_matrix_without_lowercase_fallback(tmp_path):
    items = vocabulary("the", "BERLIN", "Café")
    matrix, found = embedding_matrix(items, write(tmp_path, GLOVE), lowercase_fallback=False)
    assert found == 1
    assert matrix[2].tolist() == pytest.approx(VALUES[0])
    assert matrix[3].abs().max() <= 1.0 and matrix[3].tolist() != pytest.approx(VALUES[2])


def test_oov_init_range_and_determinism(tmp_path):
    dim = 12
    path = write(tmp_path, "".join(f"w{i} " + " ".join(["5"] * dim) + "\n" for i in range(3)))
    items = vocabulary(*(f"w{i}" for i in range(3)), *(f"oov{i}" for i in range(200)))
    matrix, found = embedding_matrix(items, path, seed=3)
    assert found == 3
    oov = matrix[5:]
    bound = math.sqrt(3 / dim)
    assert oov.abs().max() <= bound and oov.abs().max() > 0.9 * bound
    assert abs(oov.mean()) < 0.05 and oov.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    assert torch.equal(embedding_matrix(items, path, seed=3)[0], matrix)
    assert not torch.equal(embedding_matrix(items, path, seed=4)[0][5:], oov)
    # A word's random row depends on the seed and its id only, not on what the file covers.
    other = write(tmp_path, "other " + " ".join(["1"] * dim) + "\n", "other.txt")
    uncovered, _ = embedding_matrix(items, other, seed=3)
    assert torch.equal(uncovered[5:], oov)


def test_embedding_matrix_when_no_word_has_a_vector(tmp_path):
    matrix, found = embedding_matrix(vocabulary("zzz"), write(tmp_path, GLOVE))
    assert found == 0 and matrix.shape == (3, 3) and torch.equal(matrix[0], torch.zeros(3))
    assert embedding_matrix([PAD, UNK], write(tmp_path, GLOVE))[0].shape == (2, 3)


def test_embedding_matrix_needs_the_special_rows(tmp_path):
    with pytest.raises(ValueError, match="must start with"):
        embedding_matrix(["the", PAD, UNK], write(tmp_path, GLOVE))
