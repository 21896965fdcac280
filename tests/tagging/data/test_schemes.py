import itertools

import pytest

from birnn_tag.tagging.data.schemes import check_tag, convert, detect_scheme, first_invalid, from_spans, to_spans

IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG"]
IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "S-ORG"]
SPANS = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 6, 7)]


def test_spans_of_each_scheme():
    assert to_spans(IOB1, "IOB1") == SPANS
    assert to_spans(IOB2, "IOB2") == SPANS
    assert to_spans(BIOES, "BIOES") == SPANS


@pytest.mark.parametrize("source,tags", [("IOB1", IOB1), ("IOB2", IOB2), ("BIOES", BIOES)])
@pytest.mark.parametrize("target,expected", [("IOB1", IOB1), ("IOB2", IOB2), ("BIOES", BIOES)])
def test_conversions(source, tags, target, expected):
    assert convert(tags, source, target) == expected


def test_round_trips_over_all_span_layouts():
    # Every way to place up to 2 typed entities over 4 tokens survives spans → tags → spans.
    layouts = []
    for a, b in itertools.combinations(range(5), 2):
        layouts.append([("X", a, b)])
        for c, d in itertools.combinations(range(b, 5), 2):
            layouts.extend([[("X", a, b), ("X", c, d)], [("X", a, b), ("Y", c, d)]])
    for spans in layouts:
        for scheme in ("IOB1", "IOB2", "BIOES"):
            tags = from_spans(spans, 4, scheme)
            assert to_spans(tags, scheme) == spans, (spans, scheme, tags)
            assert convert(convert(tags, scheme, "BIOES"), "BIOES", scheme) == tags


def test_detection():
    assert detect_scheme([IOB1]) == "IOB1"
    assert detect_scheme([IOB2, ["O"]]) == "IOB2"
    assert detect_scheme([IOB2, BIOES]) == "BIOES"


def test_repairs_like_conlleval():
    # An I- after O (or after another type) opens a new entity.
    assert convert(["O", "I-PER", "I-LOC"], "IOB2", "IOB2") == ["O", "B-PER", "B-LOC"]
    assert first_invalid(["O", "I-PER"], "IOB2") == 1
    assert first_invalid(["B-PER", "E-PER", "E-PER"], "BIOES") == 2
    assert first_invalid(IOB2, "IOB2") is None
    assert first_invalid(IOB1, "IOB1") is None


def test_malformed_tags():
    with pytest.raises(ValueError, match="invalid tag 'PER'"):
        check_tag("PER", "IOB2")
    with pytest.raises(ValueError, match="invalid tag 'S-PER' for scheme IOB2"):
        check_tag("S-PER", "IOB2")
    check_tag("S-PER", "BIOES")


def test_lowercase_prefixes_are_read_as_prefixes_and_written_in_upper_case():
    tags = ["b-per", "i-per", "o", "i-loc"]
    assert detect_scheme([tags]) == "IOB2" and detect_scheme([["i-per", "b-per"]]) == "IOB1"
    assert to_spans(tags, "IOB2") == [("per", 0, 2), ("loc", 3, 4)]
    assert convert(tags[:3], "IOB2", "BIOES") == ["B-per", "E-per", "O"]
    assert first_invalid(tags[:3], "IOB2") is None  # lower case is not an invalid transition
    check_tag("s-per", "BIOES")


def test_a_prefix_without_a_type_says_the_type_is_empty():
    with pytest.raises(ValueError, match="invalid tag 'B-': the type after B- is empty"):
        check_tag("B-", "IOB2")
