"""The layout says the architecture (docs/architecture.md): no import circles anywhere, each package
of the core imports only the layers below it, the core never imports the UI or streamlit, and the
top level holds app.py, pages/, ui/ and vae/. Read from the source with ast, so an import inside a
function counts as much as one at the top."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The core's layers, and what each may import besides itself (vae.limits is under everything).
ALLOWED = {
    "data": {"limits"},
    "models": {"limits", "data"},
    "store": {"limits", "data", "models"},
    "inference": {"limits", "data", "models"},
    "training": {"limits", "data", "models", "store", "inference"},
    "interop": {"limits", "data", "models", "store"},
    "plots": {"limits", "data", "models", "store", "inference"},  # plots only read
    "cli": {"limits", "data", "models", "store", "inference", "training", "interop"},
    "limits": set(),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = [
        ROOT / "app.py",
        *(ROOT / "pages").glob("*.py"),
        *(ROOT / "ui").rglob("*.py"),
        *(ROOT / "vae").rglob("*.py"),
    ]
    return {_module_name(p): p for p in files}


SOURCES = _sources()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules this file imports: `from pkg import sub` names the submodule sub when it
    is one, else the package itself."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in SOURCES else base)
    return found


GRAPH = {name: _imports(name, path) for name, path in SOURCES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "vae" and len(parts) > 1 else None


def test_no_import_circles():
    """Depth-first search over every project module's imports; a back edge is a circle."""
    project = {m: {t for t in targets if t in SOURCES and t != m} for m, targets in GRAPH.items()}
    state, circles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(project[m]):
            if state.get(t) == "open":
                circles.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(project):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles:\n" + "\n".join(circles)
    assert len(project) > 60  # the walk saw the whole tree


def test_core_packages_import_only_layers_below():
    wrong = []
    for m, targets in GRAPH.items():
        layer = _layer(m)
        if layer is None or layer not in ALLOWED:
            continue
        for t in targets:
            other = _layer(t)
            if t.startswith("vae.") and other != layer and other not in ALLOWED[layer]:
                wrong.append(f"{m} ({layer}) imports {t} ({other})")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("forbidden", ["streamlit", "ui", "pages", "app"])
def test_core_never_imports_the_app(forbidden):
    offenders = [
        m
        for m, targets in GRAPH.items()
        if m.split(".")[0] == "vae" and any(t == forbidden or t.startswith(forbidden + ".") for t in targets)
    ]
    assert not offenders


def test_ui_never_imports_pages_and_nothing_imports_a_page():
    offenders = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        for t in targets
        if (t.startswith("pages.") or t == "app") and m != t
    ]
    assert not offenders


def test_the_top_level_and_the_core_stay_small():
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert top == ["app.py"], top
    direct = sorted(p.name for p in (ROOT / "vae").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(direct) <= 8, direct
    packages = {p.name for p in (ROOT / "vae").iterdir() if (p / "__init__.py").exists()}
    assert packages == {"models", "data", "store", "training", "inference", "interop", "plots", "cli"}


def test_the_old_circle_is_broken_by_the_registry():
    """model.py and conditional.py were a circle (build() imported conditional lazily); now only
    registry.py knows every kind, and neither of them imports it."""
    assert "vae.models.registry" not in GRAPH["vae.models.model"] | GRAPH["vae.models.conditional"]
    assert "vae.models.conditional" not in GRAPH["vae.models.model"]
    assert {"vae.models.model", "vae.models.conditional"} <= GRAPH["vae.models.registry"]


def test_the_documented_table_is_the_rule():
    """docs/architecture.md's "may import" table says exactly what ALLOWED enforces."""

    doc = (ROOT / "docs" / "architecture.md").read_text()
    names = set(ALLOWED) - {"limits"}
    table = {}
    for line in doc.splitlines():
        m = re.match(r"\| `vae\.(\w+)` \| (.+?) \|$", line)
        if m and m.group(1) in names:
            table[m.group(1)] = set(re.findall(r"\b(" + "|".join(ALLOWED) + r")\b", m.group(2).split("(")[0]))
    assert table == {k: v for k, v in ALLOWED.items() if k in names}


def _named_in_docs(doc: str) -> set[str]:
    """Every module the page names: paths (`ui/components/live.py`), dotted names (`vae.store.bundle`)
    and, in a package's bullet (- **`vae.models`**: ...), its files by their bare names (`config.py`)."""

    named, package = set(), None
    for line in doc.splitlines():
        bullet = re.match(r"- \*\*`vae\.(\w+)`\*\*", line)
        if bullet:
            package = bullet.group(1)
        elif not line.startswith("  "):
            package = None
        for token in re.findall(r"`([\w./]+)`", line):
            if token.endswith((".py", ".js", ".css")) and "/" in token:
                named.add(token)
            elif token.endswith(".py") and package:
                named.add(f"vae/{package}/{token}")
            elif re.fullmatch(r"vae(\.\w+)+", token):
                named.add(token)
    return named


def _exists(name: str) -> bool:
    if "/" in name or name.endswith((".py", ".js", ".css")):
        return (ROOT / name).exists()
    path = ROOT.joinpath(*name.split("."))
    if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
        return True
    parent, attr = ROOT.joinpath(*name.split(".")[:-1]), name.split(".")[-1]  # vae.training.fit: a name in one
    module = parent / "__init__.py" if parent.is_dir() else parent.with_suffix(".py")
    return module.exists() and re.search(rf"\b(def|class|import) .*\b{attr}\b", module.read_text()) is not None


def test_every_module_the_architecture_page_names_exists():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    named = _named_in_docs(doc)
    assert len(named) > 40  # the parser still finds the page's names
    assert sorted(n for n in named if not _exists(n)) == []
