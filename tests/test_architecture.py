"""The dependency direction of DESIGN.md holds: walk every import with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "portal_adapter": ("scim_server", "auth", "scim2_models", "scim2_server", "authlib"),
    "auth": ("scim_server",),
}
"""For each package, the top-level modules it must never import."""

FORBIDDEN_NAMES = {"portal_adapter": {("flask", "request"), ("flask", "session"), ("flask", "g")}}


def imports_of(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Return (module, imported names) for every import statement of a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_dependency_direction(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module, names in imports_of(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
            for name in names:
                if (top, name) in FORBIDDEN_NAMES.get(package, set()):
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}.{name}")
    assert offenders == []


def test_the_scim_layer_does_not_import_auth() -> None:
    """Only the composition root (app, CLI, admin) may import auth; the SCIM adapter never."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "scim_server" / "scim").rglob("*.py"))
        if any(module.split(".")[0] == "auth" for module, _ in imports_of(path))
    ]
    assert offenders == []
