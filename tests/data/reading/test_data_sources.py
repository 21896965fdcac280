import json

import datasets
import pytest
import torch

from birnn_tag.config import DataConfig, EncodingConfig
from birnn_tag.data.reading.conll import ColumnFormat, read_conll
from birnn_tag.data.encoding import TokenEncoder
from birnn_tag.data.reading.sources import load_corpus
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError

from conftest import training_pieces


def test_reads_conll_columns_and_skips_docstart(tiny_conll):
    data = read_conll(tiny_conll, ColumnFormat(0, 3))
    assert len(data["tokens"]) == 5
    assert data["tokens"][0] == ["Anna", "Berg", "visited", "Oslo", "."]
    assert data["tags"][0] == ["I-PER", "I-PER", "O", "I-LOC", "O"]
    assert data["line"][:2] == [3, 9]


def test_tab_separated_with_spaces_inside_tokens(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("New York\tB-LOC\nis\tO\n")
    assert read_conll(path, ColumnFormat(0, -1))["tokens"] == [["New York", "is"]]


@pytest.mark.parametrize(
    "content,message",
    [
        ("a NN O\nb O\n", r"x.txt:2: expected 3 columns, found 2"),
        ("a\tO\nb O\n", r"x.txt:2: mixed separators"),
        ("a O\nb\tO\n", r"x.txt:2: mixed separators"),
        ("\n\n", r"x.txt: no sentences found"),
    ],
)
def test_malformed_column_files(tmp_path, content, message):
    path = tmp_path / "x.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_conll(path, ColumnFormat(0, -1))


def test_non_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"a O\nb\xff O\n")
    with pytest.raises(DataError, match=r"x.txt:2: not valid UTF-8 \(byte 0xff at column 2\)"):
        read_conll(path, ColumnFormat(0, -1))


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: file is empty"):
        load_corpus(DataConfig(train=str(tmp_path / "empty.txt")))
    with pytest.raises(DataError, match="nope.txt: file not found"):
        load_corpus(DataConfig(train=str(tmp_path / "nope.txt")))


def test_iob1_is_converted_to_iob2_and_bioes(tiny_conll):
    corpus = load_corpus(DataConfig(train=str(tiny_conll)))
    iob2 = training_pieces(corpus, DataConfig())
    assert iob2["tags"][0] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert iob2["tags"][4] == ["B-LOC", "B-LOC"]
    bioes = training_pieces(corpus, DataConfig(scheme="BIOES"))
    assert bioes["tags"][0] == ["B-PER", "E-PER", "O", "S-LOC", "O"]
    assert bioes["tags"][4] == ["S-LOC", "S-LOC"]
    assert iob2["where"][1] == f"{tiny_conll}:9"


def test_invalid_tag_and_transitions(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a B-PER\nb X-PER\n")
    with pytest.raises(DataError, match=r"bad.txt:1 token 2: tag 'X-PER' has none; set data.scheme: none"):
        training_pieces(load_corpus(DataConfig(train=str(bad))), DataConfig())
    with pytest.raises(DataError, match=r"bad.txt:1: invalid tag 'X-PER'"):
        training_pieces(load_corpus(DataConfig(train=str(bad))), DataConfig(input_scheme="IOB2"))
    broken = tmp_path / "broken.txt"
    broken.write_text("a B-PER\n\nb O\nc I-LOC\n")
    config = DataConfig(train=str(broken), input_scheme="IOB2", invalid_tags="error")
    with pytest.raises(DataError, match=r"broken.txt:3: invalid IOB2 transition at token 2 \(O → I-LOC\)"):
        training_pieces(load_corpus(config), config)
    repaired = training_pieces(load_corpus(config), DataConfig(input_scheme="IOB2"))
    assert repaired["tags"][1] == ["O", "B-LOC"]


def test_long_sentences_split_or_refused(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("".join(f"w{i} O\n" for i in range(7)))
    corpus = load_corpus(DataConfig(train=str(path)))
    split = training_pieces(corpus, DataConfig(max_length=3))
    assert [len(t) for t in split["tokens"]] == [3, 3, 1]
    with pytest.raises(DataError, match=r"long.txt:1: sentence of 7 tokens is longer than data.max_length=3"):
        training_pieces(corpus, DataConfig(max_length=3, long_sentences="error"))


def test_jsonl_csv_parquet_and_classlabel(tmp_path):
    rows = [{"words": ["Anna", "smiled"], "labels": ["B-PER", "O"]}, {"words": ["Oslo"], "labels": ["B-LOC"]}]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    corpus = load_corpus(DataConfig(train=str(jsonl), token_column="words", tag_column="labels"))
    assert corpus.splits["train"]["tokens"] == [["Anna", "smiled"], ["Oslo"]]
    csv = tmp_path / "d.csv"
    csv.write_text("tokens,tags\nAnna smiled,B-PER O\n")
    assert load_corpus(DataConfig(train=str(csv))).splits["train"]["tags"] == [["B-PER", "O"]]
    features = datasets.Features(
        {"tokens": datasets.Sequence(datasets.Value("string")),
         "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "B-LOC"]))}
    )
    table = datasets.Dataset.from_dict({"tokens": [["Anna", "x"]], "ner_tags": [[1, 0]]}, features=features)
    table.to_parquet(str(tmp_path / "d.parquet"))
    assert load_corpus(DataConfig(train=str(tmp_path / "d.parquet"))).splits["train"]["tags"] == [["B-PER", "O"]]
    with pytest.raises(DataError, match=r"no field 'toks' \(data.token_column\)"):
        load_corpus(DataConfig(train=str(jsonl), token_column="toks", tag_column="labels"))


def _classlabel_dict():
    features = datasets.Features(
        {"tokens": datasets.Sequence(datasets.Value("string")),
         "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))}
    )
    make = lambda: datasets.Dataset.from_dict(  # noqa: E731
        {"tokens": [["Anna", "Berg", "ran"], ["ok"]], "ner_tags": [[1, 2, 0], [0]]}, features=features
    )
    return datasets.DatasetDict({"train": make(), "validation": make(), "test": make()})


def test_save_to_disk_folder_with_classlabels(tmp_path):
    _classlabel_dict().save_to_disk(str(tmp_path / "saved"))
    corpus = load_corpus(DataConfig(disk=str(tmp_path / "saved")))
    assert set(corpus.splits) == {"train", "validation", "test"}
    assert corpus.splits["validation"]["tags"][0] == ["B-PER", "I-PER", "O"]


def test_hub_code_path_with_a_local_dataset_folder(tmp_path):
    # load_dataset() resolves a local folder through the same call that fetches hub ids.
    folder = tmp_path / "hub_like"
    folder.mkdir()
    for split, dataset in _classlabel_dict().items():
        dataset.to_parquet(str(folder / f"{split}.parquet"))
    corpus = load_corpus(DataConfig(hub=str(folder)))
    assert corpus.splits["test"]["tokens"][0] == ["Anna", "Berg", "ran"]


def test_unreachable_hub_dataset_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # as on a machine without network
    with pytest.raises(DataError, match=r"data.hub='no-such/dataset-xyz': cannot load"):
        load_corpus(DataConfig(hub="no-such/dataset-xyz"))


def test_validation_carved_out_of_train(tiny_conll):
    corpus = load_corpus(DataConfig(train=str(tiny_conll), validation_fraction=0.4))
    assert len(corpus.splits["train"]) == 3 and len(corpus.splits["validation"]) == 2


def test_exactly_one_source():
    with pytest.raises(DataError, match="set exactly one of data.hub, data.disk or data.train"):
        load_corpus(DataConfig())


def test_byte_order_mark_bare_docstart_and_empty_tokens(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_text("\ufeff-DOCSTART-\n\nAnna B-PER\nsmiled O\n", encoding="utf-8")
    assert read_conll(path, ColumnFormat(0, -1))["tokens"] == [["Anna", "smiled"]]
    tabbed = tmp_path / "tab.txt"
    tabbed.write_text("Anna\tB-PER\n\tO\n")
    with pytest.raises(DataError, match=r"tab.txt:2: empty token"):
        read_conll(tabbed, ColumnFormat(0, -1))
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"tokens": ["a", ""], "tags": ["O", "O"]}))
    with pytest.raises(DataError, match=r"rows.jsonl row 1: empty token"):
        load_corpus(DataConfig(train=str(rows)))
    rows.write_text(json.dumps({"tokens": ["a", "b"], "tags": ["O", ""]}))
    with pytest.raises(DataError, match=r"rows.jsonl row 1: empty tag"):
        load_corpus(DataConfig(train=str(rows)))


def test_iob2_with_stray_inside_tags_is_not_mistaken_for_iob1(tmp_path):
    path = tmp_path / "iob2.txt"
    path.write_text("Anna B-PER\nBerg I-PER\n\nin O\nOslo I-LOC\n")
    config = DataConfig(train=str(path), invalid_tags="error")
    with pytest.raises(DataError, match=r"iob2.txt:4: invalid IOB2 transition at token 2"):
        training_pieces(load_corpus(config), config)


def test_tiny_train_split_cannot_be_carved(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("Anna B-PER\n")
    with pytest.raises(DataError, match=r"data.validation_fraction=0.1"):
        load_corpus(DataConfig(train=str(path), validation_fraction=0.1))


def test_sentences_encoded_together_equal_each_encoded_alone_and_the_exported_graphs_feed():
    config = EncodingConfig(max_word_length=6)
    vocabs = Vocabularies.build([["Peter", "lives", "in", "Berlin", "."]], [["B-PER", "O", "O", "B-LOC", "O"]], config)
    encoder = TokenEncoder(vocabs, config)
    sentences = [["Peter", "in", "Zürich"], ["a"], ["Berlin", "1990-11-24", "lives", "in", "Peter"], ["in"]]
    together = encoder.encode_sentences(sentences)
    feed = encoder.encode(sentences).padded()  # what an exported model's runtime gives onnxruntime
    for row, (tokens, encoded) in enumerate(zip(sentences, together)):
        [alone] = encoder.encode_sentences([tokens])
        for field in ("words", "chars", "casing"):
            assert torch.equal(getattr(encoded, field), getattr(alone, field)), (tokens, field)
        length = len(tokens)
        assert feed["word_ids"][row, :length].tolist() == encoded.words.tolist()
        assert feed["casing_ids"][row, :length].tolist() == encoded.casing.tolist()
        chars = feed["char_ids"][feed["spelling_ids"][row, :length]]
        assert chars[:, : encoded.chars.shape[1]].tolist() == encoded.chars.tolist() and not chars[:, encoded.chars.shape[1] :].any()
    assert (feed["word_ids"][1, 1:] == 0).all() and (feed["spelling_ids"][1, 1:] == 0).all()  # padding
    assert feed["lengths"].tolist() == [3, 1, 5, 1]


def test_tab_separated_fields_lose_surrounding_whitespace_and_a_trailing_tab(tmp_path):
    # A line's trailing tab is not an empty column, and a space typed after a tag is not part of it.
    path = tmp_path / "t.tsv"
    path.write_text("Peter\tNNP\tI-NP\tI-PER\t\nBerg\tNNP\tI-NP\tI-ORG \n")
    assert read_conll(path, ColumnFormat(0, -1))["tags"] == [["I-PER", "I-ORG"]]


def test_an_empty_tag_names_file_and_line(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("Peter\tNNP\tI-PER\nBerg\t\tI-PER\n")
    with pytest.raises(DataError, match=r"x.tsv:2: empty tag \(column 2\)"):
        read_conll(path, ColumnFormat(0, 1))


def test_docstart_inside_a_sentence_is_refused(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("-DOCSTART- -X- -X- O\n\nPeter B-PER\n-DOCSTART- -X- -X- O\nBerg I-PER\n\n")
    with pytest.raises(DataError, match=r"x.txt:4: -DOCSTART- inside a sentence \(the one from line 3\)"):
        read_conll(path, ColumnFormat(0, -1))


def test_a_folder_named_as_a_split_is_not_a_missing_file(tmp_path, tiny_conll):
    with pytest.raises(DataError, match=f"^data.test: {tmp_path}: is a folder, not a data file$"):
        load_corpus(DataConfig(train=str(tiny_conll), test=str(tmp_path)))
