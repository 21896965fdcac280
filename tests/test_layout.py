"""The package's shape: imports go one way (no cycles, function-level imports counted), task
names appear only in the registry, the task packages and the config schema, nothing probes a
model or a report with getattr / hasattr, and the library prints nothing (the CLI and the
service talk)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "birnn_tag"
# The package that talks to the terminal: the command line and its training view.
CLI_PACKAGE = "birnn_tag.cli"


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imported(tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules a module imports anywhere (top level, in functions, for type checks)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from birnn_tag.tagging import schemes` imports the submodule, else the module itself.
            names.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names)
    return {name for name in names if name in known}


def test_no_import_cycles():
    trees = modules()
    graph = {name: imported(tree, set(trees)) - {name} for name, tree in trees.items()}
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":  # still being visited: it imports `name`, directly or not
                raise AssertionError("import cycle: " + " → ".join(path[path.index(target) :] + [name, target]))
            if target not in state:
                visit(target, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


# Where the task names may be written: the registry, the task packages and the config schema
# (whose ``task:`` key names them).
TASK_NAMES = ("tagging", "cloze")
NAMING_TASKS = ("birnn_tag.tasks", "birnn_tag.tagging", "birnn_tag.cloze", "birnn_tag.config")


def within(name: str, packages: tuple[str, ...]) -> bool:
    """Whether module ``name`` is one of ``packages`` or inside one."""
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_task_names_only_in_the_registry_the_tasks_and_the_config():
    for name, tree in modules().items():
        if within(name, NAMING_TASKS):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in TASK_NAMES:
                raise AssertionError(f"{name}:{node.lineno}: names the task {node.value!r}; ask the registry or check a type")


# getattr / hasattr on things that are not models or reports, and why. Everywhere else shared
# code tells tasks, models and reports apart by type (birnn_tag.contracts), never by probing.
PROBES = {
    ("birnn_tag", "getattr"): "the package's lazy attributes (module __getattr__)",
    ("birnn_tag.errors", "getattr"): "reprlib's repr_<type> methods",
    ("birnn_tag.config.reading", "getattr"): "a type annotation's name, for messages",
    ("birnn_tag.runtime.devices", "getattr"): "private torch.cpu probes that older PyTorch lacks",
    ("birnn_tag.runtime.threads", "hasattr"): "os functions that only some platforms have",
    ("birnn_tag.nn.recurrent", "getattr"): "torch.nn.RNN's per-layer parameters by name",
    ("birnn_tag.contextual.transformer", "getattr"): "optional attributes of a transformers model",
    ("birnn_tag.contextual.transformer", "hasattr"): "optional attributes of a transformers model",
    ("birnn_tag.data.reading.sources", "getattr"): "data config fields by split name; datasets features",
    ("birnn_tag.cloze.text", "getattr"): "data config fields by split name",
    ("birnn_tag.cloze.prediction", "getattr"): "a candidate's fields by name, for its record",
}


def test_no_probing_for_attributes():
    found = set()
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
                found.add((name, node.func.id))
                assert (name, node.func.id) in PROBES, (
                    f"{name}:{node.lineno}: {node.func.id}() outside the allowed probes; dispatch by type (birnn_tag.contracts)"
                )
    assert not PROBES.keys() - found, f"allowed probes no longer made: {sorted(PROBES.keys() - found)}"


# The packages that talk to people: the command line (and its training view) and the service.
TALKING = (CLI_PACKAGE, "birnn_tag.service")
# Modules outside them that may name a standard stream, and why.
STREAMS = {"birnn_tag.files": "``-`` as an output path is standard output (opened, never printed to)"}


def test_the_library_prints_nothing():
    for name, tree in modules().items():
        if within(name, TALKING):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                function = node.func
                called = function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else ""
                assert called not in ("print", "Console"), f"{name}:{node.lineno}: {called}() outside the CLI and the service"
            stream = isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__")
            if stream and name not in STREAMS:
                raise AssertionError(f"{name}:{node.lineno}: uses sys.{node.attr} outside the CLI and the service")


# The task packages, and the modules allowed to reach into them: the registry and the public API.
TASK_PACKAGES = ("birnn_tag.tagging", "birnn_tag.cloze")
TASK_AWARE = {"birnn_tag", "birnn_tag.api", "birnn_tag.tasks"}


def task_of(name: str) -> str | None:
    return next((package for package in TASK_PACKAGES if name == package or name.startswith(package + ".")), None)


def test_each_task_keeps_to_its_package():
    trees = modules()
    for name, tree in trees.items():
        if name in TASK_AWARE:
            continue
        own = task_of(name)
        for target in imported(tree, set(trees)):
            other = task_of(target)
            assert other is None or other == own, f"{name} imports {target}: shared code and other tasks stay out"
