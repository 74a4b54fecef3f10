"""The layering of the package, read from the source with ``ast``: who may import whom.

faces → services → db / domain; domain is pure; nothing below imports what is above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest_mailer"


def imports_of(path: Path) -> set[str]:
    """Every module an ``import`` or ``from … import`` in this file names at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Imports for type checkers only (``if TYPE_CHECKING:``) are no dependency at run time.
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def modules(room: str) -> list[Path]:
    return sorted((PACKAGE / room).rglob("*.py"))


def offenders(room: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for path in modules(room):
        hits = sorted(m for m in imports_of(path)
                      if any(m == f or m.startswith(f + ".") for f in forbidden))
        if hits:
            bad[str(path.relative_to(PACKAGE))] = hits
    return bad


@pytest.mark.parametrize(("room", "forbidden"), [
    ("faces", ("digest_mailer.db", "sqlmodel", "sqlalchemy")),
    ("domain", ("digest_mailer.db", "digest_mailer.services", "digest_mailer.faces",
                "digest_mailer.app", "sqlmodel", "sqlalchemy")),
    ("services", ("digest_mailer.faces", "digest_mailer.app")),
    ("db", ("digest_mailer.services", "digest_mailer.faces", "digest_mailer.app")),
])
def test_no_room_imports_what_it_must_not(room: str, forbidden: tuple[str, ...]) -> None:
    assert modules(room), f"no modules under {room}/"
    assert offenders(room, forbidden) == {}


def test_the_import_of_db_and_of_the_package_counts():
    """The check itself sees the forms the code uses (`from digest_mailer import db`)."""
    sample = PACKAGE / "services" / "send.py"
    assert "digest_mailer.db" in imports_of(sample)


def test_no_face_opens_a_session_and_each_is_small():
    for path in modules("faces"):
        text = path.read_text(encoding="utf-8")
        assert "Session(" not in text, path
        assert len(text.splitlines()) <= 250, (path, len(text.splitlines()))


def test_the_one_composition_root_builds_the_parts():
    """The engine, the signer (with the secret keys, read once) and the briefer are built
    in app.py and nowhere else."""
    builders = ("make_engine(", "LinkSigner(", "make_briefer(", "effective_secret_keys(")
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "app.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            if any(b in code for b in builders) and not code.lstrip().startswith(("def ",
                                                                                   "class ")):
                elsewhere.append(f"{path.relative_to(PACKAGE)}: {line.strip()}")
    assert elsewhere == []
