"""Packages depend one way: model ← checks ← pipelines; model, results ← workspace ← reports ← webapp; the
command line (callqa.cli*, and callqa.__main__, the `callqa` command) on top.

Every import of the project's own modules is read from the source (module level and inside functions) and
held against the allowed directions; and no two modules import each other, directly or round a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("callqa", "qa_checks", "results", "pipelines", "workspace", "reports", "webapp")

# layer of a module, and the layers each layer may import
MODEL, CHECKS, RESULTS, PIPELINES, REPORTS, CLI = "model", "checks", "results", "pipelines", "reports", "cli"
WORKSPACE, WEBAPP = "workspace", "webapp"
ALLOWED = {
    MODEL: {MODEL},
    CHECKS: {MODEL, CHECKS},
    RESULTS: {MODEL, RESULTS},
    PIPELINES: {MODEL, CHECKS, RESULTS, PIPELINES},
    # the review workspace's database: people's decisions, appeals, cases, users, the audit log
    WORKSPACE: {MODEL, RESULTS, WORKSPACE},
    REPORTS: {MODEL, CHECKS, RESULTS, WORKSPACE, REPORTS},
    # the web app: nothing imports it but the command line
    WEBAPP: {MODEL, CHECKS, RESULTS, WORKSPACE, REPORTS, WEBAPP},
    CLI: {MODEL, CHECKS, RESULTS, PIPELINES, WORKSPACE, REPORTS, WEBAPP, CLI},
}


def layer(module: str) -> str:
    top = module.split(".")[0]
    if top == "callqa":
        return CLI if module.startswith("callqa.cli") or module == "callqa.__main__" else MODEL
    return {"qa_checks": CHECKS, "results": RESULTS, "pipelines": PIPELINES, "workspace": WORKSPACE,
            "reports": REPORTS, "webapp": WEBAPP}[top]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


GRAPH = {m: imports(m, p, set(modules())) for m, p in modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_one_way(module):
    wrong = {dep for dep in GRAPH[module] if layer(dep) not in ALLOWED[layer(module)]}
    assert not wrong, f"{module} ({layer(module)}) must not import {sorted(wrong)}"


def test_no_import_cycles():
    # a package's __init__ re-exporting its modules is not a cycle of the code
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_graph_is_read():
    assert "qa_checks.call" in GRAPH["qa_checks.questions"] and "results.store" in GRAPH["pipelines.scoring"]
