"""The layers hold beyond what ``lint-imports`` can see: no cycle through any module (lazy imports
included), a client that loads no engine module until asked for it, and pages that reach the engine
only through ``facereco.engine``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted; every import counts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert import_cycles(graph) == [["a.b", "a.c"]]


def test_no_module_of_facereco_takes_part_in_an_import_cycle():
    graph = grimp.build_graph("facereco")
    assert import_cycles(graph) == []


# What the engine may import of facereco: an allow-list, so a new module above it (as quality.py once
# was) cannot slip past a list of forbidden ones.
ENGINE_MAY_IMPORT = (
    "facereco.engine",
    "facereco.contract",
    "facereco.errors",
    "facereco.validation",
    "facereco._version",
)


def test_the_engine_imports_only_the_contract_errors_validation_and_itself():
    graph = grimp.build_graph("facereco")
    engine_modules = {m for m in graph.modules if m == "facereco.engine" or m.startswith("facereco.engine.")}
    outside = sorted(
        f"{module} -> {imported}"
        for module in engine_modules
        for imported in graph.find_modules_directly_imported_by(module)
        if not any(imported == allowed or imported.startswith(allowed + ".") for allowed in ENGINE_MAY_IMPORT)
    )
    assert outside == []


def test_importing_the_client_loads_no_engine_module():
    code = (
        "import sys, facereco, facereco.client, facereco.transport, facereco.contract, facereco.errors\n"
        "print(sorted(m for m in sys.modules if m.startswith('facereco.engine')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_importing_the_engine_package_loads_nothing_until_a_name_is_used():
    code = (
        "import sys, facereco.engine as engine\n"
        "before = sorted(m for m in sys.modules if m.startswith('facereco.engine.'))\n"
        "engine.UrlPolicy\n"
        "after = sorted(m for m in sys.modules if m.startswith('facereco.engine.'))\n"
        "print(before, 'facereco.engine.fetch' in after, 'facereco.engine.api' in after)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[] True False"


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_pages_and_the_router_reach_the_engine_only_through_its_front_door():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    assert len(files) > 5
    reaching_in = {
        path.name: sorted(m for m in _imported_modules(path) if m.startswith("facereco.engine.")) for path in files
    }
    assert {name: found for name, found in reaching_in.items() if found} == {}


def test_the_contract_exports_what_a_user_imports_and_keeps_its_plumbing_in_its_modules():
    import facereco.contract as contract
    from facereco.contract.codes import response_body
    from facereco.contract.requests import request_parts, wire_fields

    assert all(hasattr(contract, name) for name in contract.__all__)
    for public in ("ENDPOINTS", "ResultCode", "SearchResult", "RegisterRequest", "MAX_IMAGE_BYTES"):
        assert public in contract.__all__
    for plumbing in (response_body, request_parts, wire_fields):
        assert plumbing.__name__ not in contract.__all__ and not hasattr(contract, plumbing.__name__)
    assert contract.DEFAULT_THRESHOLD == contract.THRESHOLD.default == 90  # the guide's default


def test_a_throttled_answer_is_caught_by_type_and_keeps_the_older_handlers_working():
    from facereco import errors as E

    throttled = E.BadResponse("HTTP 429", E.CallInfo("GET", "/p"), status=429)
    assert isinstance(throttled, E.RateLimited) and isinstance(throttled, E.TransportError)
    assert throttled.status == 429 and str(throttled) == "HTTP 429 (GET /p)"
    assert not isinstance(E.BadResponse("HTTP 502", status=502), E.RateLimited)
    assert E.ApiError.for_code(-40030).__class__ is E.NotFoundGroup is E.NotFoundGroupError
