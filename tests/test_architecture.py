"""The house rules that code review cannot keep by itself: ingest/ knows nothing of bot/, and no module of either
imports another that imports it back, imports inside functions included (they only hide a cycle)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

PACKAGES = ("bot", "ingest")


def module_imports() -> dict[str, set[str]]:
    """Every module of bot/ and ingest/ and the modules of both it imports, at any depth of its code."""
    files = {}
    for package in PACKAGES:
        for f in (REPO / package).rglob("*.py"):
            name = ".".join(f.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            files[name] = f
    graph = {}
    for name, f in files.items():
        found = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                on.discard(w)
                component.append(w)
            on.discard(v)
            if component:
                out.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_among_bot_and_ingest():
    assert cycles(module_imports()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_ingest_never_imports_bot():
    graph = module_imports()
    assert {(m, d) for m, deps in graph.items() if m.startswith("ingest") for d in deps if d.startswith("bot")} == set()


def test_bot_reads_the_index_only_through_its_reading_api():
    """bot/ never imports chromadb nor reaches for the Chroma collection or the manifest's SQLite: the columns and
    metadata keys those hold are ingest/'s to change."""
    offenders = []
    for f in (REPO / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("chromadb", "sqlite3") for n in names):
                offenders.append(f"{f.name}: imports {names}")
            if isinstance(node, ast.Attribute) and node.attr in ("collection", "db", "vectors", "manifest"):
                offenders.append(f"{f.name}:{node.lineno}: .{node.attr}")
    assert offenders == []
