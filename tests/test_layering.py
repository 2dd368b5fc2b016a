"""The package's layering holds: transports over domain over storage, wired in one place.

Read from the source (every ``import``, including those inside functions), so a
violation fails here before it can grow: the domain never reaches up into a
transport, storage never reaches up at all, the admin CLI does not depend on the
server, and the client library and terminal client speak only the wire.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatkit"

# module prefix -> prefixes it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "chatkit.storage": ("chatkit.domain", "chatkit.server", "chatkit.cli", "chatkit.services",
                        "chatkit.client", "chatkit.tui"),
    "chatkit.domain": ("chatkit.server", "chatkit.cli", "chatkit.services", "chatkit.client", "chatkit.tui"),
    "chatkit.services": ("chatkit.server", "chatkit.cli", "chatkit.client", "chatkit.tui"),
    "chatkit.server": ("chatkit.cli", "chatkit.client", "chatkit.tui"),
    "chatkit.cli.admin": ("chatkit.server",),
    "chatkit.cli.admin_chats": ("chatkit.server",),
    "chatkit.cli.common": ("chatkit.server",),
    "chatkit.cli.admin_media": ("chatkit.server",),
    "chatkit.cli.admin_pushes": ("chatkit.server",),
    "chatkit.cli.admin_ops": ("chatkit.server",),
    # what every command imports at start: typer and the settings only (admin loads lazily)
    "chatkit.cli.groups": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                           "pymongo", "bson"),
    "chatkit.cli.output": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                           "pymongo", "bson"),
    "chatkit.client": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                       "chatkit.cli", "pymongo", "bson", "motor"),
    "chatkit.tui": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                    "chatkit.cli", "pymongo", "bson", "motor"),
    # the smoke check talks to a remote server: the wire only, like the client it is built on
    "chatkit.smoke": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                      "chatkit.cli", "pymongo", "bson", "motor"),
    "chatkit.cli.smoke": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                          "chatkit.cli.common", "chatkit.cli.admin", "pymongo", "bson", "motor"),
    # the load generator speaks only the wire (MongoDB only through chatkit.bench.direct, below)
    "chatkit.bench": ("chatkit.server", "chatkit.domain", "chatkit.storage", "chatkit.services",
                      "chatkit.cli", "chatkit.tui"),
}
# third-party modules one module alone may import within a layer: layer -> (modules, the one module)
ONLY_IN: dict[str, tuple[tuple[str, ...], str]] = {
    "chatkit.bench": (("pymongo", "bson", "motor"), "chatkit.bench.direct"),
}
# Modules every layer may use: they import nothing of chatkit's layers themselves.
FOUNDATION = ("chatkit.wire", "chatkit.errors", "chatkit.protocol")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = _module_name(path).split(".")[: -node.level]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_found() -> None:
    names = {_module_name(p) for p in MODULES}
    assert {"chatkit.domain.sending", "chatkit.storage.chats", "chatkit.server.sockets", "chatkit.services"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_module_respects_the_layering(path: Path) -> None:
    module = _module_name(path)
    rules = [bad for prefix, bad in FORBIDDEN.items() if _under(module, prefix)]
    violations = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for line, target in _imports(path)
        for bad in rules
        for prefix in bad
        if _under(target, prefix)
    ]
    assert not violations, "layering broken:\n" + "\n".join(sorted(set(violations)))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_module_reaches_mongodb_only_where_allowed(path: Path) -> None:
    """``chatkit bench`` writes to MongoDB only for ``--provision direct``, from one module."""
    module = _module_name(path)
    for layer, (modules, only) in ONLY_IN.items():
        if not _under(module, layer) or module == only:
            continue
        bad = [f"{line}: {target}" for line, target in _imports(path) if any(_under(target, m) for m in modules)]
        assert not bad, f"{module} imports {bad}; only {only} may"


def test_foundation_modules_import_no_layer() -> None:
    layers = ("chatkit.storage", "chatkit.domain", "chatkit.server", "chatkit.cli", "chatkit.services")
    for name in FOUNDATION:
        path = PACKAGE.parent / (name.replace(".", "/") + ".py")
        bad = [t for _, t in _imports(path) if any(_under(t, layer) for layer in layers)]
        assert not bad, f"{name} must stay below every layer, imports {bad}"


def test_only_the_serve_command_reaches_the_server() -> None:
    """``chatkit serve`` starts the server; no other CLI module may import it."""
    for path in (PACKAGE / "cli").glob("*.py"):
        targets = [t for _, t in _imports(path) if _under(t, "chatkit.server")]
        if path.name == "main.py":
            assert {t for t in targets if not _under(t, "chatkit.server.runner")} == set(), targets
        else:
            assert targets == [], f"{path.name} imports the server: {targets}"
