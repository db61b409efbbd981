"""The schema class of every API view (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

A module of its own, not the api package's __init__: DRF imports the permission classes the settings name
(annotations.api.permissions) while its own modules are still being imported, and a package __init__ that
imported drf-spectacular would then be half made (tests/platform/test_settings.py)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

# The largest id a request may name: what a bigint column (PostgreSQL) and an INTEGER one (SQLite) hold.
# A larger one is bad input (400); passed on, SQLite's driver raises OverflowError, a 500.
MAX_ID = 2**63 - 1


class DocstringSchema(AutoSchema):
    """Each operation described from its docstring (the view method's, else its class's): the first line
    as the summary, the rest as the description.

    Swagger UI and Redoc title an operation by its summary and, without one, by its raw operationId
    ("batches_skips_hand_on_create"). drf-spectacular puts the whole docstring in the description and
    gives no summary; the first line is left out of the description here, so the docs do not show the
    title twice. An explicit @extend_schema(summary=..., description=...) still wins."""

    def _docstring_parts(self) -> tuple[str, str]:
        # AutoSchema's description is the docstring, dedented.
        first, _, rest = super().get_description().partition("\n")
        return first.strip(), rest.strip()

    def get_summary(self) -> str | None:
        return self._docstring_parts()[0] or None

    # drf-spectacular's AutoSchema asks with no arguments; the DRF stub's ViewInspector declares two.
    def get_description(self) -> str:  # type: ignore[override]
        return self._docstring_parts()[1]


# Every refusal the API gives is a JSON object (annotations.api.errors, and the middlewares' own for NUL
# bytes and oversized bodies): {"detail": why, ...} for a refusal of the request as a whole, with what the
# refusal adds (a conflict's current revision, say), and {field: [messages]} for a body or query whose
# fields are wrong. One schema for all of them, under each operation's 4XX, so that a generated client has
# a type for a refusal and the fuzzing tests hold every 4xx body to it.
PROBLEM = {
    "type": "object",
    "description": (
        "A refusal. `detail` says why the request as a whole was refused; a request whose fields are wrong "
        "is answered with each field's messages under the field's name instead."
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
REFUSAL = {
    "description": (
        "Refused: 400 for bad input, 403 without the role (or signed out), 404 for what the caller may not "
        "see or what does not exist, 409 for a conflict with the current state, 413 for a body too large."
    ),
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def refusals_declared(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the Problem schema, and a 4XX response on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    for item in result.get("paths", {}).values():
        for operation in item.values():
            operation.setdefault("responses", {}).setdefault("4XX", REFUSAL)
    return result
