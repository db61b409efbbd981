"""The layers point one way: views/api -> services/selectors -> models/lib, and lib is pure.

Read from the source with `ast`, so an import tucked inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "annotations"
CAPABILITIES = [
    "taxonomy",
    "exams",
    "imports",
    "batches",
    "reading",
    "suggestions",
    "agreement",
    "adjudication",
    "releases",
    "audit",
    "benchmarks",
    "credentials",
    "webhooks",
]


def _modules(layer: str) -> list[Path]:
    place = PACKAGE / layer
    return [place] if place.suffix == ".py" else sorted(place.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module path this file imports, at any depth (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _offenders(layer: str, forbidden: re.Pattern[str]) -> dict[str, list[str]]:
    out = {}
    for path in _modules(layer):
        bad = sorted(name for name in _imports(path) if forbidden.match(name))
        if bad:
            out[str(path.relative_to(ROOT))] = bad
    return out


def test_lib_imports_nothing_of_the_project_outside_lib_and_no_framework():
    forbidden = re.compile(
        r"^(django|rest_framework|celery|drf_spectacular|ecgreview)(\.|$)|^annotations\.(?!lib)"
    )
    assert _offenders("lib", forbidden) == {}


def test_no_selector_imports_a_service_or_a_task():
    assert _offenders("selectors", re.compile(r"^annotations\.(services|tasks|views|api)(\.|$)")) == {}


def test_services_reach_tasks_only_through_the_jobs_dispatch():
    forbidden = re.compile(r"^annotations\.(tasks|views|api)(\.|$)")
    assert _offenders("services", forbidden) == {}


def test_models_import_no_behaviour():
    forbidden = re.compile(r"^annotations\.(services|selectors|tasks|views|api)(\.|$)")
    assert _offenders("models", forbidden) == {}


def test_tasks_call_services_and_nothing_above_them():
    forbidden = re.compile(r"^annotations\.(views|api|selectors)(\.|$)")
    assert _offenders("tasks", forbidden) == {}


PAGES_AND_API = ["views", "api", "templatetags", "forms.py"]

# What a page or an endpoint may not touch itself: the managers and querysets (reads belong in selectors,
# which take the requesting user), a transaction or an audit row (writes belong in services, one
# transaction and one audit row each).
_MANAGERS = {"objects", "_default_manager", "_base_manager"}
_QUERIES = {"filter", "exclude", "get_queryset"}
_SHORTCUTS = {"get_object_or_404", "get_list_or_404"}
_WRITES = {"transaction", "atomic", "AuditEvent", "audit_record"}


def _leaks(source: str) -> list[str]:
    """Each `line: what` in this source that reads the database or writes an audit row itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                dotted = f"{module}.{alias.name}"
                if alias.name in _SHORTCUTS | _WRITES:
                    found.append(f"{line}: imports {dotted}")
                elif alias.name.endswith(("Manager", "QuerySet")):
                    found.append(f"{line}: imports the manager {dotted}")
        elif isinstance(node, ast.Import):
            found += [
                f"{line}: imports {a.name}" for a in node.names if a.name.startswith("django.db.transaction")
            ]
        elif isinstance(node, ast.Attribute) and node.attr in _MANAGERS | _WRITES:
            found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in _SHORTCUTS | _WRITES:
            found.append(f"{line}: {node.id}")
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _QUERIES
        ):
            found.append(f"{line}: .{node.func.attr}()")
    return sorted(set(found), key=lambda text: int(text.split(":")[0]))


def test_the_leak_finder_sees_each_way_a_page_could_reach_the_database():
    source = """
from django.shortcuts import get_object_or_404
from django.db import transaction
from annotations.services.audit import audit_record
from annotations.models import AuditEvent
from annotations.models.reading import AssignmentQuerySet
import django.db.transaction

def view(request, pk):
    account = get_object_or_404(User, pk=pk)
    reads = Assignment.objects.all()
    mine = request.user.assignment_set.filter(status="done")
    with transaction.atomic():
        audit_record(actor=request.user, action="x")
    return Batch._default_manager.first()
"""
    leaks = _leaks(source)
    for what in (
        "imports django.shortcuts.get_object_or_404",
        "imports django.db.transaction",
        "imports annotations.services.audit.audit_record",
        "imports annotations.models.AuditEvent",
        "imports the manager annotations.models.reading.AssignmentQuerySet",
        "10: get_object_or_404",
        "11: .objects",
        "12: .filter()",
        "13: .atomic",
        "14: audit_record",
        "15: ._default_manager",
    ):
        assert any(what in leak for leak in leaks), (what, leaks)
    assert (
        _leaks("def view(request):\n    return render(request, 'x.html', {'rows': rows_for(request.user)})")
        == []
    )


@pytest.mark.parametrize("layer", PAGES_AND_API)
def test_pages_and_api_never_query_the_database_nor_write_an_audit_row_themselves(layer):
    """Reads go through selectors that take the requesting user; writes through services that open the
    transaction and record the audit row. Read from the syntax tree, so no spelling slips past."""
    offenders = {
        str(path.relative_to(ROOT)): leaks for path in _modules(layer) if (leaks := _leaks(path.read_text()))
    }
    assert offenders == {}


def test_every_capability_has_its_model_module_and_the_layers_use_its_name():
    for capability in CAPABILITIES:
        assert (PACKAGE / "models" / f"{capability}.py").exists(), capability
    for layer in ("services", "selectors", "api", "views"):
        names = {p.stem if p.suffix else p.name for p in (PACKAGE / layer).iterdir()} - {
            "__init__",
            "__pycache__",
        }
        strangers = (
            names
            - set(CAPABILITIES)
            - {
                "access",
                "auth",
                "blinding",
                "demo",
                "jobs",
                "errors",
                "home",
                "permissions",
                "schema",
                "urls",
                "users",
            }
        )
        assert strangers == set(), (layer, strangers)


def test_no_comment_or_docstring_cites_an_issue_number():
    suffixes = {".py", ".js", ".css", ".html", ".example", ".yml", ".toml"}
    roots = [PACKAGE, ROOT / "ecgreview", ROOT / "static", ROOT / "templates", ROOT / "bench", ROOT / "tests"]
    files = [p for base in roots for p in base.rglob("*") if p.suffix in suffixes and "vendor" not in p.parts]
    files += [ROOT / ".env.example", ROOT / "Makefile", ROOT / "docker-compose.yml"]
    pattern = re.compile(r"\bissues?\s*#?\d+\b", re.IGNORECASE)
    cited = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        if p.exists() and p != Path(__file__).resolve()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert cited == []


def test_a_function_over_50_lines_says_why_in_a_comment_above_it():
    """Small functions are the rule; the exceptions carry their reason right above the definition."""
    unexplained = []
    for base in (PACKAGE, ROOT / "ecgreview"):
        for path in base.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            lines = path.read_text().splitlines()
            for node in ast.walk(ast.parse("\n".join(lines))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if node.end_lineno - node.lineno + 1 <= 50:
                    continue
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if not lines[first - 2].lstrip().startswith("#"):
                    unexplained.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert unexplained == []


# --- Imports our own modules make: at the top of the file, and never round in a circle -----------------
_OURS = re.compile(r"^(annotations|ecgreview)(\.|$)")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

# A function-local import of our own modules, allowed: "path:function" -> why it cannot sit at the top.
LOCAL_IMPORTS_ALLOWED: dict[str, str] = {
    "annotations/apps.py:ready": "Django imports apps.py before any model exists; ready() is where an app "
    "registers its system checks, and the single sign-on check's module imports models",
}


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts if parts[-1] == "__init__" else parts[:-1])


def _imported_modules(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted modules one import statement names, relative ones resolved against `package`; for
    `from a import b`, both `a` and `a.b` (b may be a submodule; the caller keeps what exists)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        module = f"{base}.{node.module}" if node.module else base
    else:
        module = node.module or ""
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


def _function_local_imports(source: str, package: str) -> list[tuple[str, int, str]]:
    """(function, line, statement) for each import inside a function body that names one of our modules."""
    found = []

    def visit(node: ast.AST, scope: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = getattr(child, "name", "<lambda>") if isinstance(child, _SCOPES) else scope
            if scope and isinstance(child, ast.Import | ast.ImportFrom):
                if any(_OURS.match(m) for m in _imported_modules(child, package)):
                    found.append((scope, child.lineno, ast.unparse(child)))
            visit(child, inner)

    visit(ast.parse(source), None)
    return found


def test_the_local_import_finder_sees_imports_at_any_depth_of_a_function():
    source = """
import numpy
from annotations.models import Batch

def top():
    import json
    from annotations.selectors import blinding
    if True:
        from ..roles import is_reader

class Thing:
    def method(self):
        def inner():
            import ecgreview.inprocess
        return lambda: __import__("x")
"""
    found = _function_local_imports(source, "annotations.services")
    assert found == [
        ("top", 7, "from annotations.selectors import blinding"),
        ("top", 9, "from ..roles import is_reader"),
        ("inner", 14, "import ecgreview.inprocess"),
    ]


def test_no_function_imports_our_own_modules():
    """An import inside a function hides a cycle between two of our modules (or an ordering nobody
    wrote down); ours go at the top of the file, and a cycle is broken by moving code where it belongs.
    Heavy optional third-party libraries may still be imported where first used."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for function, line, statement in _function_local_imports(path.read_text(), _package_of(path)):
            if f"{path.relative_to(ROOT)}:{function}" not in LOCAL_IMPORTS_ALLOWED:
                offenders.append(f"{path.relative_to(ROOT)}:{line} in {function}(): {statement}")
    assert offenders == []
    assert all(reason.strip() for reason in LOCAL_IMPORTS_ALLOWED.values())


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(source: str, package: str) -> set[str]:
    """The modules imported when this file runs: every import outside functions, but not those under
    `if TYPE_CHECKING:` (they never run)."""
    found: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, _SCOPES):
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(_imported_modules(node, package))
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit([ast.parse(source)])
    return found


def _import_graph(layers: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of `layers` it imports at its top level. Importing a.b.c runs a and a.b
    first, so a package's __init__ counts as imported with each of its submodules."""
    paths = {
        _module_name(p): p
        for layer in layers
        for p in (PACKAGE / layer).rglob("*.py")
        if "migrations" not in p.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = set()
        for module in _top_level_imports(path.read_text(), _package_of(path)):
            parts = module.split(".")
            targets.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
        graph[name] = {t for t in targets if t in paths and t != name and not name.startswith(f"{t}.")}
    return graph


def _a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as a path (first node repeated at the end), or [] if it has none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := walk(target)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return []


def test_the_cycle_finder_reports_the_path_round():
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from . import x
else:
    import w
from .y import z
def f():
    import v
class C:
    import u
"""
    assert _top_level_imports(source, "p") == {"typing", "typing.TYPE_CHECKING", "w", "p.y", "p.y.z", "u"}


def test_the_modules_of_annotations_import_each_other_without_a_cycle():
    """With no import inside functions to hide one, a cycle would show as an ImportError at start-up
    that depends on which module happened to be imported first. The services, selectors and lib are
    where cycles grew; the graph holds every module, so one through a view or a model shows too."""
    graph = _import_graph(("services", "selectors", "lib"))
    assert graph["annotations.services.releases.card"] >= {"annotations.selectors.agreement.summary"}
    cycle = _a_cycle(graph)
    assert cycle == [], " -> ".join(cycle)
    cycle = _a_cycle(_import_graph(("",)))
    assert cycle == [], " -> ".join(cycle)
