"""The package as a whole: its modules import one another in one direction only (no import cycle)."""

import ast
import pathlib

import resnet_lessons

PACKAGE = pathlib.Path(resnet_lessons.__file__).parent


def package_imports(source: str) -> set[str]:
    """The ``resnet_lessons`` modules a module's source imports, at its top level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None:  # from . import x
                names.update(alias.name for alias in node.names)
            elif node.level == 1:  # from .x import y
                names.add(node.module.split(".")[0])
            elif node.module == "resnet_lessons":
                names.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("resnet_lessons."):
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("resnet_lessons."))
    return names


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> the modules it imports) as a list of names, or ``None``."""
    state = {}  # absent: not seen; 1: on the current path; 2: done

    def visit(module, path):
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return path[path.index(imported):] + [imported]
            if imported not in state:
                cycle = visit(imported, path + [imported])
                if cycle:
                    return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert package_imports("from . import data, train\nfrom .checkpoints import RUN_FILE\n"
                           "def f():\n    from resnet_lessons import models\n") == {
        "data", "train", "checkpoints", "models"}


def test_the_package_has_no_import_cycle():
    graph = {path.stem: package_imports(path.read_text()) - {path.stem} for path in PACKAGE.glob("*.py")}
    assert "train" in graph["run_report"]  # the graph is read, not empty
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"
