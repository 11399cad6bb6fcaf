"""No import circles between the modules of bot/, retrieval/ and embeddings/.

A circle means neither module can be read, tested or changed apart from the
other, and usually that a lower layer reaches back up (the reader into the
evaluator, the file format into its exporter). Imports inside functions and
under ``TYPE_CHECKING`` count too: they are the same dependency, only later.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "retrieval", "embeddings")


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name → file, for every .py file under the packages."""
    out: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module → the modules of the same packages it imports, anywhere in its
    file. ``from a.b import c`` counts as importing ``a.b`` and, where ``a.b.c``
    is a module, that too."""
    mods = modules(root, packages)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package[: len(package) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            edges[name].update(t for t in targets if t in mods and t != name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(edges: dict[str, set[str]], comp: list[str]) -> str:
    inside = set(comp)
    return "\n".join(f"  {m} -> {', '.join(sorted(edges[m] & inside))}" for m in comp)


def test_no_import_circles():
    edges = import_graph(ROOT)
    assert {"bot.cli", "retrieval.reader.model", "embeddings.light"} <= set(edges), "the packages were not found"
    found = cycles(edges)
    assert not found, "import circles:\n" + "\n\n".join(describe(edges, c) for c in found)


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    pkg = tmp_path / "retrieval"
    (pkg / "reader").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "reader" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "evaluate.py").write_text("from retrieval.reader.model import Reader\n", encoding="utf-8")
    (pkg / "reader" / "model.py").write_text(
        "def score():\n    from ..evaluate import f1_score\n", encoding="utf-8")
    (pkg / "reader" / "format.py").write_text("from . import model\n", encoding="utf-8")
    edges = import_graph(tmp_path, ("retrieval",))
    assert cycles(edges) == [["retrieval.evaluate", "retrieval.reader.model"]]
    assert edges["retrieval.reader.format"] == {"retrieval.reader", "retrieval.reader.model"}
