"""One payload shape per API answer: the serializer the schema declares is the one the answer is made by.

A view that documents `responses=XSerializer` but answers `Response(some_dict)` writes its payload twice:
the dict goes out whatever the serializer says, and the published schema drifts from what clients get.
Each JSON answer must therefore be `Response(XSerializer(...).data, ...)`, with X among the serializers
the method's `extend_schema(responses=...)` names. Files, CSV and empty answers (204) are not JSON
payloads and are left alone; the error handler answers every error in one shape of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "annotations" / "api"
NOT_VIEWS = {"__init__.py", "errors.py", "schema.py", "urls.py", "permissions.py"}
MODULES = sorted(p.name for p in API.glob("*.py") if p.name not in NOT_VIEWS)


def _names(node: ast.AST | None) -> set[str]:
    """The serializer classes an `extend_schema(responses=...)` value names, however it is written:
    `X`, `X(many=True)`, `{200: X}`, `{(200, "application/json"): X}` or `OpenApiResponse(X)`."""
    if node is None:
        return set()
    found = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id.endswith("Serializer"):
            found.add(inner.id)
        elif isinstance(inner, ast.Attribute) and inner.attr.endswith("Serializer"):
            found.add(inner.attr)
    return found


def _declared(function: ast.FunctionDef) -> set[str]:
    declared: set[str] = set()
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "extend_schema":
            for keyword in decorator.keywords:
                if keyword.arg == "responses":
                    declared |= _names(keyword.value)
    return declared


def _made_by(payload: ast.expr) -> str | None:
    """`XSerializer(...).data` gives X; anything else (a dict, a selector's answer) gives None."""
    if isinstance(payload, ast.Attribute) and payload.attr == "data" and isinstance(payload.value, ast.Call):
        func = payload.value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name if name.endswith("Serializer") else None
    return None


def _responses(function: ast.FunctionDef):
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Response" and node.args:
            yield node


def _problems(module: str, source: str | None = None) -> list[str]:
    tree = ast.parse(source if source is not None else (API / module).read_text(), module)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        declared = _declared(node)
        for call in _responses(node):
            made_by = _made_by(call.args[0])
            where = f"{module}:{call.lineno} in {node.name}()"
            if made_by is None:
                problems.append(f"{where}: answers a payload no serializer made")
            elif declared and made_by not in declared:
                problems.append(f"{where}: made by {made_by}, but the schema declares {sorted(declared)}")
            elif not declared and node.name in {"get", "post", "put", "patch", "delete"}:
                problems.append(f"{where}: made by {made_by}, but the schema declares no response")
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_every_json_answer_is_made_by_the_serializer_its_schema_declares(module):
    assert _problems(module) == []


def test_the_check_sees_a_hand_built_answer_and_a_serializer_the_schema_does_not_name():
    source = """
class V(APIView):
    @extend_schema(responses={201: MadeSerializer})
    def post(self, request):
        return Response({"id": 1})

    @extend_schema(responses=OtherSerializer(many=True))
    def get(self, request):
        return Response(MadeSerializer(rows, many=True).data)

    @extend_schema(responses=MadeSerializer)
    def put(self, request):
        return Response(MadeSerializer(row).data, status=201)

    @extend_schema(responses={204: None})
    def delete(self, request):
        return Response(status=204)
"""
    problems = _problems("probe.py", source)
    assert len(problems) == 2
    assert "answers a payload no serializer made" in problems[0]
    assert "made by MadeSerializer, but the schema declares ['OtherSerializer']" in problems[1]
