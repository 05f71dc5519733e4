"""The house rules, checked on the source: imports run one way between rooms, no room imports
another module's underscored names, and every room says what it exports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Lower rooms first: a room may import itself and the rooms before it, never one after it.
ORDER = (
    "core",
    "indexing",
    "search",
    "evaluation",
    "training",
    "server",
    "cluster",
    "bench",
    "cli",
)
DATA_ONLY = ("configs",)  # packaged files, no code to import


def rooms() -> list[str]:
    return sorted(p.parent.name for p in REPO.glob("*/__init__.py"))


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for every import of lucene_hybrid in a file, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "." * node.level + (node.module or ""), []))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lucene_hybrid"):
            found.append((node.lineno, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lucene_hybrid"):
                    found.append((node.lineno, alias.name, []))
    return found


def test_every_room_has_a_place_in_the_order():
    assert set(rooms()) - set(DATA_ONLY) <= set(ORDER), (
        "a new top-level package must be placed in ORDER (and in docs/architecture.md)"
    )


@pytest.mark.parametrize("room", [r for r in ORDER if (REPO / r / "__init__.py").exists()])
def test_imports_run_one_way(room):
    rank = ORDER.index(room)
    wrong = []
    for path in sorted((REPO / room).rglob("*.py")):
        for line, module, _ in imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if module.startswith("."):
                wrong.append(f"{where}: relative import {module}: import lucene_hybrid.<room>...")
                continue
            parts = module.split(".")
            if len(parts) < 2:
                wrong.append(f"{where}: imports the bare namespace {module}")
                continue
            target = parts[1]
            if target in DATA_ONLY:
                wrong.append(f"{where}: {module} holds data: read it with core.config_path")
            elif target not in ORDER:
                wrong.append(f"{where}: {module} is no room")
            elif ORDER.index(target) > rank:
                wrong.append(f"{where}: {room} imports {target}, a room above it")
    assert not wrong, "\n".join(wrong)


def test_no_underscored_name_crosses_a_module():
    places = [REPO / r for r in rooms()] + [REPO / "scripts", REPO / "examples", REPO / "tests"]
    wrong = []
    for place in places:
        for path in sorted(place.rglob("*.py")):
            for line, module, names in imports(path):
                private = [n for n in names if n.startswith("_")]
                private += [p for p in module.split(".")[1:] if p.startswith("_")]
                if private:
                    wrong.append(f"{path.relative_to(REPO)}:{line}: {module} {private}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("room", [r for r in ORDER if (REPO / r / "__init__.py").exists()])
def test_each_room_exports_its_public_names(room):
    tree = ast.parse((REPO / room / "__init__.py").read_text())
    assert ast.get_docstring(tree), f"{room}/__init__.py needs a docstring saying what it holds"
    exported = next(
        (
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ),
        None,
    )
    assert exported, f"{room}/__init__.py must list its public names in __all__"
    module = __import__(f"lucene_hybrid.{room}", fromlist=["__all__"])
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"lucene_hybrid.{room} lists names it does not define: {missing}"
