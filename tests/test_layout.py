"""The package's shape: imports go one way (no cycles, function-level imports counted), task
names appear only in the task registry, and the library prints nothing (the CLI does)."""

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


def test_task_names_only_in_the_registry():
    for name, tree in modules().items():
        if name == "birnn_tag.tasks":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                values = [c.value for c in node.comparators if isinstance(c, ast.Constant)]
                assert "cloze" not in values and "tagging" not in values, f"{name}:{node.lineno}: compares with a task name"


def test_the_library_prints_nothing():
    for name, tree in modules().items():
        if name == CLI_PACKAGE or name.startswith(CLI_PACKAGE + "."):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                function = node.func
                called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
                assert called not in ("print", "Console"), f"{name}:{node.lineno}: {called}() outside the CLI"
            if isinstance(node, ast.Attribute) and node.attr == "stderr":
                raise AssertionError(f"{name}:{node.lineno}: writes to stderr outside the CLI")


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
