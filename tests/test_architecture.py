"""The architecture's import rules, checked on the AST import graph of ``src/scalinglab``.

Layers, bottom to top: ``data → laws → fit → plan → report``, with ``runner`` (the only user of torch) beside
them and ``cli`` on top. The rules (developers' guide; issue 18 item 4):

* ``data``, ``laws``, ``fit`` and ``plan`` never import ``runner``;
* nothing outside ``cli`` imports ``cli``;
* ``laws`` and ``fit`` never import ``report`` or ``plan``;
* only ``runner`` imports ``torch``;
* no import cycles among the modules inside ``fit/`` and inside ``plan/`` (none left since the plan
  kernel moved to ``plan/_optimum.py``).

Every import counts, at module level or inside a function (a lazy import is still a dependency), except those
under ``if TYPE_CHECKING:``. The graph is built from source text, so a test can check a tree with a
deliberately added violation without touching ``src``. ``python tests/test_architecture.py`` prints the graph
of fit/ and plan/ and any cycles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "scalinglab"

#: component -> components it must never import (a component is the name right below ``scalinglab``).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "data": ("runner",),
    "laws": ("runner", "report", "plan"),
    "fit": ("runner", "report", "plan"),
    "plan": ("runner",),
}
#: Packages whose modules must not import each other in a circle.
ACYCLIC = ("fit", "plan")


# --------------------------------------------------------------------------------------------- the graph
def read_sources(root: Path = SRC, package: str = PACKAGE) -> dict[str, str]:
    """``{module name: source text}`` for every ``.py`` file of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path.read_text(encoding="utf-8")
    return out


def _is_package(name: str, sources: Mapping[str, str]) -> bool:
    return any(m.startswith(name + ".") for m in sources)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for sub in node.body:
                    lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def imports_of(module: str, source: str, sources: Mapping[str, str]) -> set[str]:
    """Modules ``module`` imports: package modules resolved to the deepest module that exists
    (``from .x import y`` is ``pkg.x.y`` when that is a module, else ``pkg.x``); others by top-level name."""
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    is_pkg = _is_package(module, sources) or module == PACKAGE
    base_parts = module.split(".") if is_pkg else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_resolve(alias.name, sources))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base_parts[: len(base_parts) - (node.level - 1)]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in sources else _resolve(target, sources))
    found.discard(module)
    return found


def _resolve(name: str, sources: Mapping[str, str]) -> str:
    if not name.startswith(PACKAGE):
        return name.split(".")[0]
    parts = name.split(".")
    while parts and ".".join(parts) not in sources:
        parts.pop()
    return ".".join(parts) or name


def import_graph(sources: Mapping[str, str]) -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module in ``sources``."""
    return {m: imports_of(m, text, sources) for m, text in sources.items()}


def component(module: str) -> str:
    """``scalinglab.fit._api`` -> ``fit``; ``scalinglab.flops`` -> ``flops``; ``torch`` -> ``torch``.
    ``scalinglab.__main__`` (``python -m scalinglab``) is the command line's entry point: ``cli``."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return parts[0]
    if module == f"{PACKAGE}.__main__":
        return "cli"
    return parts[1] if len(parts) > 1 else ""


# --------------------------------------------------------------------------------------------- the rules
def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One line per import that breaks a layering rule."""
    out = []
    for module, targets in sorted(graph.items()):
        src = component(module)
        for target in sorted(targets):
            dst = component(target)
            if target.startswith(PACKAGE + "."):
                if dst == "cli" and src != "cli":
                    out.append(f"{module} imports {target}: nothing below cli imports cli")
                elif dst in FORBIDDEN.get(src, ()):
                    out.append(f"{module} imports {target}: {src} never imports {dst}")
            elif dst == "torch" and src != "runner":
                out.append(f"{module} imports torch: only runner imports torch")
    return out


def cycles(graph: Mapping[str, Iterable[str]], inside: str) -> list[list[str]]:
    """Strongly connected components (size > 1, or a self-import) among the modules of ``inside``
    (e.g. ``"fit"``), each sorted; Tarjan's algorithm."""
    prefix = f"{PACKAGE}.{inside}"
    nodes = sorted(m for m in graph if m == prefix or m.startswith(prefix + "."))
    sub = {m: sorted(t for t in graph[m] if t in nodes and t != prefix) for m in nodes if m != prefix}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sub[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sub:
        if v not in index:
            visit(v)
    return sorted(out)


# --------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return read_sources()


@pytest.fixture(scope="module")
def graph(sources) -> dict[str, set[str]]:
    return import_graph(sources)


def test_the_graph_sees_the_package(graph):
    assert len(graph) > 80 and "scalinglab.fit" in graph and "scalinglab.runner.train" in graph
    assert "torch" in graph["scalinglab.runner.train"]
    assert any(t.startswith("scalinglab.fit") for t in graph["scalinglab.plan._law"])  # plan uses fit


def test_import_rules_hold(graph):
    bad = violations(graph)
    assert bad == [], "import rule violations:\n" + "\n".join(bad)


def test_no_import_cycles_in_fit_and_plan(graph):
    found = [f"{pkg}: {' <-> '.join(c)}" for pkg in ACYCLIC for c in cycles(graph, pkg)]
    assert found == [], "import cycles:\n" + "\n".join(found)


@pytest.mark.parametrize("module, line, expected", [
    ("scalinglab.data", "from scalinglab.runner import train",
     "scalinglab.data imports scalinglab.runner.train: data never imports runner"),
    ("scalinglab.data.load", "from ..runner import train",
     "scalinglab.data.load imports scalinglab.runner.train: data never imports runner"),
    ("scalinglab.fit._api", "from ..plan import allocation",
     "scalinglab.fit._api imports scalinglab.plan.allocation: fit never imports plan"),
    ("scalinglab.laws._base", "import scalinglab.report.html",
     "scalinglab.laws._base imports scalinglab.report.html: laws never imports report"),
    ("scalinglab.runner.adaptive", "from ..cli._common import emit_json",
     "scalinglab.runner.adaptive imports scalinglab.cli._common: nothing below cli imports cli"),
    ("scalinglab.flops", "import torch.nn", "scalinglab.flops imports torch: only runner imports torch"),
    ("scalinglab.plan.audit", "    from scalinglab.runner import spec",
     "scalinglab.plan.audit imports scalinglab.runner.spec: plan never imports runner"),
])
def test_a_deliberate_violation_fails(sources, graph, module, line, expected):
    """The real sources with one import added (at module level, or inside a function) break exactly that rule
    (the patched module is re-parsed; the rest of the graph is the real one)."""
    text = sources[module] + (f"\n\ndef _added():\n{line}\n" if line.startswith(" ") else f"\n{line}\n")
    patched = {**graph, module: imports_of(module, text, sources)}
    added = [b for b in violations(patched) if b not in set(violations(graph))]
    assert added == [expected]


def test_type_checking_imports_do_not_count(sources, graph):
    text = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n" + sources["scalinglab.flops"]
    assert imports_of("scalinglab.flops", text, sources) == graph["scalinglab.flops"] | {"typing"}


def test_a_deliberate_cycle_is_found():
    tree = {
        "scalinglab": "",
        "scalinglab.fit": "from ._a import f\n",
        "scalinglab.fit._a": "from ._b import g\n\ndef f():\n    return g()\n",
        "scalinglab.fit._b": "def g():\n    from ._a import f\n    return f\n",
        "scalinglab.fit._c": "from ._a import f\n",
        "scalinglab.plan": "from . import x\n",
        "scalinglab.plan.x": "from . import y\n",
        "scalinglab.plan.y": "import scalinglab.plan.x\n",
    }
    graph = import_graph(tree)
    assert graph["scalinglab.fit._b"] == {"scalinglab.fit._a"}
    assert cycles(graph, "fit") == [["scalinglab.fit._a", "scalinglab.fit._b"]]
    assert cycles(graph, "plan") == [["scalinglab.plan.x", "scalinglab.plan.y"]]
    del tree["scalinglab.fit._b"]
    tree["scalinglab.fit._b"] = "def g():\n    return 1\n"
    assert cycles(import_graph(tree), "fit") == []


if __name__ == "__main__":  # print the graph of fit/ and plan/ and their cycles
    g = import_graph(read_sources())
    for pkg in ACYCLIC:
        prefix = f"{PACKAGE}.{pkg}"
        for m in sorted(x for x in g if x.startswith(prefix)):
            inner = sorted(t.removeprefix(prefix + ".") for t in g[m] if t.startswith(prefix + "."))
            print(f"{m.removeprefix(PACKAGE + '.')}: {', '.join(inner) or '-'}")
        print(f"cycles in {pkg}/: {cycles(g, pkg) or 'none'}\n")
    print("\n".join(violations(g)) or "no import-rule violations")
