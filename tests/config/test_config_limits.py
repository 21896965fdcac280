"""Configs that are small on disk but huge, deep or non-finite once read: each is one ConfigError
naming the file and key, reached quickly and with little memory."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from birnn_tag.config import apply_overrides, config_from_dict, load_config
from birnn_tag.errors import ConfigError

# A value that is 9 ** 9 (387 million) strings once every alias is expanded, in 480 bytes.
ALIAS_BOMB = """\
# billion laughs
model:
  hidden_size:
    - &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    - &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    - &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
    - &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def run_limited(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python with 1 GiB of address space and a minute of time: a config
    that expands runs out of both, instead of taking the test machine down with it."""
    prelude = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_alias_bomb_yaml_is_refused_quickly(tmp_path):
    path = write(tmp_path, ALIAS_BOMB)
    result = run_limited(f"""
        from birnn_tag.config import load_config
        from birnn_tag.errors import ConfigError
        try:
            load_config({str(path)!r})
        except ConfigError as error:
            print(error)
        """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == f"{path}: config expands to more than 10,000 values (YAML aliases?)\n"


def test_checkpoint_config_with_shared_references_is_refused_quickly():
    # What torch.load gives for a pickled config whose lists are one list referenced 10 times a level.
    result = run_limited("""
        from birnn_tag.config import config_from_dict
        from birnn_tag.errors import ConfigError
        cutoffs = [1] * 10
        for _ in range(9):
            cutoffs = [cutoffs] * 10
        try:
            config_from_dict({"model": {"adaptive_cutoffs": cutoffs}}, "best.pt (saved config)")
        except ConfigError as error:
            print(error)
        """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "best.pt (saved config): config expands to more than 10,000 values (YAML aliases?)\n"


def test_long_values_are_abbreviated_in_messages(tmp_path):
    path = write(tmp_path, "data:\n  scheme: " + "x" * 10_000 + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: data.scheme: expected one of 'auto', 'IOB2', 'BIOES', 'none', got '{'x' * 17}...{'x' * 18}'"
    with pytest.raises(ConfigError, match=r"training.epochs: expected int, got \[0, 1, 2, \.\.\.\]$"):
        load_config(write(tmp_path, f"training:\n  epochs: {list(range(5000))}\n"))


@pytest.mark.parametrize(
    "section,key,text,shown",
    [
        ("model", "dropout", ".nan", "nan"),
        ("training", "lr", ".nan", "nan"),
        ("training", "momentum", "-.inf", "-inf"),
        ("training", "clip_grad_norm", ".inf", "inf"),  # float or null
        ("training", "lr", "1" * 400, "inf"),  # an int too large for a float
    ],
)
def test_non_finite_numbers_are_refused(tmp_path, section, key, text, shown):
    with pytest.raises(ConfigError, match=rf"c\.yaml: {section}\.{key}: must be a finite number, got {shown}$"):
        load_config(write(tmp_path, f"{section}:\n  {key}: {text}\n"))


def test_seed_must_fit_the_generators(tmp_path):
    with pytest.raises(ConfigError, match=r"training.seed: must be <= 4294967295, got 100000000000000000000000$"):
        load_config(write(tmp_path, "training:\n  seed: 100000000000000000000000\n"))
    with pytest.raises(ConfigError, match=r"training.seed: must be >= 0, got -1$"):
        load_config(write(tmp_path, "training:\n  seed: -1\n"))
    assert load_config(write(tmp_path, "training:\n  seed: 4294967295\n")).training.seed == 2**32 - 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("training:\n  seed: " + "9" * 5000 + "\n", "c.yaml: not valid YAML: Exceeds the limit (4300 digits)"),
        ("model:\n  adaptive_cutoffs: " + "[" * 2000 + "]" * 2000 + "\n", "c.yaml: not valid YAML: nested too deeply"),
    ],
)
def test_yaml_python_cannot_convert_is_a_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert message in str(error.value)


def test_override_python_cannot_convert_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set training.seed: cannot parse value '9999.*: Exceeds the limit"):
        load_config(write(tmp_path, ""), ["training.seed=" + "9" * 5000])


def test_overrides_copy_only_what_they_change():
    shared = {"hidden_size": 8}
    raw = {"model": shared, "training": {"epochs": 2}, "data": None}
    result = apply_overrides(raw, ["model.hidden_size=16", "data.train=a.txt"])
    assert result == {"model": {"hidden_size": 16}, "training": {"epochs": 2}, "data": {"train": "a.txt"}}
    assert raw == {"model": {"hidden_size": 8}, "training": {"epochs": 2}, "data": None}


@pytest.mark.parametrize("section,key", [("model", "hidden_size"), ("training", "threads"), ("training", "epochs")])
def test_absurd_sizes_name_their_key(section, key):
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: must be <= \d+, got 1000000000000000000000"):
        config_from_dict({section: {key: 10**21}})
