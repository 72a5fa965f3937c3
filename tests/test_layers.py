"""The layout's promise, checked on the source: imports run one way (no upward import, no loop).

Each folder of ``bot/`` has a rank in the flow (the pure core at the bottom, the command line
at the top); a module may import its own folder and folders ranked below it, never above or
beside it (so the intake knows no handler, and the handlers no intake).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

RANK = {
    "config": 0,
    "core": 1,
    "config_loader": 1,
    "airtable_local": 1,
    "health": 1,
    "metrics": 2,
    "storage": 2,
    "clients": 3,
    "sync": 4,
    "handlers": 5,
    "intake": 5,
    "app": 6,
    "cli": 7,
    "__main__": 8,
}


def _module(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _area(module: str) -> str | None:
    """The folder (or top-level module) of ``bot`` a module belongs to; None for ``bot``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(tree: ast.Module, *, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bot":
            for alias in node.names:  # ``from bot.pkg import submodule`` imports the submodule
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in SOURCE_PATHS else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "bot")
    return found


SOURCE_PATHS = {_module(path): path for path in BOT.rglob("*.py")}
SOURCES = {
    module: ast.parse(path.read_text(encoding="utf-8")) for module, path in SOURCE_PATHS.items()
}


def test_every_area_has_a_rank() -> None:
    areas = {_area(module) for module in SOURCES} - {None}
    assert areas <= set(RANK), f"give these a rank: {sorted(areas - set(RANK))}"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_upward_or_sideways_import(module: str) -> None:
    mine = _area(module)
    if mine is None:
        return
    wrong = []
    for imported in _imports(SOURCES[module], top_level_only=False):
        theirs = _area(imported)
        if theirs in (None, mine) or imported not in SOURCES:
            continue
        if RANK[theirs] >= RANK[mine]:
            wrong.append(imported)
    assert not wrong, f"{module} imports {sorted(wrong)}, which stand above or beside it"


def test_no_import_loop() -> None:
    """Counting imports inside functions too: a lazy import that closes a loop is a loop."""
    graph = {
        module: {m for m in _imports(tree, top_level_only=False) if m in SOURCES and m != module}
        for module, tree in SOURCES.items()
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            loop = [*path[path.index(module) :], module]
            pytest.fail("import loop: " + " → ".join(loop))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_checks_see_a_wrong_import() -> None:
    """The rank check is not vacuous: a core module importing the lane would be caught."""
    tree = ast.parse("from bot.clients.airtable import AirtableLane\n")
    imported = _imports(tree, top_level_only=False)
    assert imported == {"bot.clients.airtable"}
    assert RANK[_area("bot.clients.airtable") or ""] >= RANK["core"]
