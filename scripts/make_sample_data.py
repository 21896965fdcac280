"""Generate the small synthetic samples shipped in data/sample (our own text).

NER: sentences filled from templates with names of people, organisations, locations and
miscellaneous entities; files use 4 space-separated columns (token POS chunk NER) and IOB1 tags,
like the original CoNLL-2003 files, so the demo exercises scheme detection and conversion.
Cloze: ``cloze.txt``, whitespace-tokenized lines about food, cars and ideas, for the
fill-in-the-blank demo ("Joe likes ___ , especially fried , scrambled or poached").

    python scripts/make_sample_data.py data/sample
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ENTITIES = {
    "PER": ["Anna Berg", "Tom Okafor", "Li Wei", "Maria Costa", "John Smith", "Sven Lund", "Aisha Khan",
            "Pedro Alves", "Yuki Tanaka", "Olga Petrova", "Ravi Mehta", "Clara Dubois", "Hans Vogel", "Mia"],
    "ORG": ["Acme Corp", "the United Nations", "Nordbank", "Reuters", "Bayern Munich", "Tata Motors",
            "the World Bank", "Volvo", "Real Madrid", "Greenfield Labs", "the Red Cross", "Sony"],
    "LOC": ["Paris", "Lagos", "New York", "Tokyo", "the Alps", "Brazil", "Oslo", "Cairo", "Lake Geneva",
            "Mumbai", "Peru", "Berlin", "South Africa"],
    "MISC": ["German", "Olympic", "French", "World Cup", "Nobel Prize", "Japanese", "Euro 2024", "Christmas"],
}
TEMPLATES = [
    "{PER} joined {ORG} in {LOC} last year .",
    "{ORG} said on Monday that profits rose 12 percent .",
    "{PER} met {PER} in {LOC} to discuss the {MISC} plan .",
    "The {MISC} team beat {ORG} 3-1 in {LOC} .",
    "Shares of {ORG} fell after {PER} resigned .",
    "{LOC} and {LOC} signed a trade deal on Friday .",
    "{PER} , a spokesman for {ORG} , declined to comment .",
    "Heavy rain hit {LOC} on Tuesday , officials said .",
    "{PER} won the {MISC} in {LOC} .",
    "{ORG} will open a new office in {LOC} in 1998 .",
    "Police in {LOC} arrested two men on Sunday .",
    "{PER} told {ORG} that the {MISC} talks would resume .",
    "It was a quiet day for the markets .",
]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """One sentence as (token, IOB1 tag) pairs."""
    rows: list[tuple[str, str]] = []
    previous_type = None
    for piece in rng.choice(TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            kind = piece[1:-1]
            words = rng.choice(ENTITIES[kind]).split()
            if words[0] == "the":
                rows.append(("the", "O"))
                words, previous_type = words[1:], None
            first = "B" if previous_type == kind else "I"  # IOB1: B- only between same-type neighbours
            rows.extend((w, f"{first if i == 0 else 'I'}-{kind}") for i, w in enumerate(words))
            previous_type = kind
        else:
            rows.append((piece, "O"))
            previous_type = None
    return rows


def write(path: Path, count: int, rng: random.Random) -> None:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(count):
        for token, tag in sentence(rng):
            pos = "NNP" if tag != "O" else ("." if token in ".," else "NN")
            lines.append(f"{token} {pos} {'I-NP' if tag != 'O' else 'O'} {tag}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


CLOZE_TEMPLATES = [
    "{name} likes eggs , especially fried , scrambled or poached .",
    "{name} cooks eggs every morning , fried or scrambled .",
    "{name} likes fast cars , especially red ones with loud engines .",
    "{name} drives old cars and repairs their engines .",
    "{name} likes new ideas , especially bold ones about {topic} .",
    "{name} writes down ideas about {topic} in a notebook .",
    "{name} bought fresh bread and eggs at the market .",
    "{name} sold two cars to a dealer in town .",
    "{name} shared good ideas with the team about {topic} .",
    "For breakfast {name} had toast with poached eggs .",
]
NAMES = ["Joe", "Anna", "Tom", "Maria", "Li", "Sven", "Aisha", "Pedro", "Yuki", "Olga", "Ravi", "Clara"]
TOPICS = ["science", "music", "schools", "cities", "energy", "health"]


def write_cloze(path: Path, count: int, rng: random.Random) -> None:
    lines = [rng.choice(CLOZE_TEMPLATES).format(name=rng.choice(NAMES), topic=rng.choice(TOPICS)) for _ in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(13)
    for name, count in (("train", 600), ("dev", 150), ("test", 150)):
        write(out / f"{name}.conll", count, rng)
    write_cloze(out / "cloze.txt", 1500, rng)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/sample")
