"""No function, method, class or property of the application is left unused: vulture reads the project
(the tests count as users, so does a template naming a filter or a property, so does a dotted path in
the settings), and what it still finds unused is either removed or one of the framework's entry points
listed here, which Django, DRF or Celery call by name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vulture import Vulture

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = [ROOT / "annotations", ROOT / "ecgreview"]
USERS = [ROOT / "tests", ROOT / "bench", ROOT / "manage.py"]
# Vulture gives 60% to every unused definition it can only guess about; variables and attributes (model
# and serializer fields, Meta options, settings) are read by the frameworks, so only behaviour is checked.
KINDS = {"function", "method", "class", "property"}
CONFIDENCE = 60

# Called by the frameworks by their name, never by the project's code.
HOOKS = {
    # Django: apps, admin, forms, commands, URL converters, checks
    "ready",
    "add_arguments",
    "handle",
    "has_module_permission",
    "has_view_permission",
    "has_add_permission",
    "has_change_permission",
    "has_delete_permission",
    "get_readonly_fields",
    "user_change_password",
    "label_from_instance",
    "to_python",
    "to_url",
    # DRF and drf-spectacular: serializers, views, schema extensions
    "validate",
    "get_queryset",
    "get_object",
    "get_security_definition",
    "get_summary",
    # urllib's redirect and connection handlers, http.server's request log, django-redis's client factory
    "redirect_request",
    "http_open",
    "https_open",
    "log_message",
    "get_client",
    # mozilla-django-oidc's backend and views
    "get_or_create_user",
    "login_failure",
    "login_success",
}
HOOK_PATTERNS = [
    re.compile(r"^clean_\w+$"),  # a form field's own cleaning
    re.compile(r"^validate_\w+$"),  # a serializer field's own validation
]
FRAMEWORK_CLASSES = [
    re.compile(r"^Command$"),  # management/commands/<name>.py
    re.compile(r"Admin$"),  # registered with @admin.register
    re.compile(r"Config$"),  # the AppConfig
    re.compile(r"Scheme$"),  # drf-spectacular extensions register by subclassing
]
# Registered by decorators: template filters and tags, system checks, Celery tasks and signal receivers.
DECORATORS = [
    "@register.*",
    "@checks.register",
    "@app.task",
    "@shared_task",
    "@*.connect",
    "@receiver",
    "@admin.register",
]


def _names_in_templates() -> set[str]:
    words: set[str] = set()
    for path in (ROOT / "templates").rglob("*.html"):
        words.update(re.findall(r"[A-Za-z_]\w*", path.read_text()))
    return words


def _dotted_path_ends() -> set[str]:
    """The last name of each dotted path written as a string (settings' MIDDLEWARE, backends, handlers)."""
    ends: set[str] = set()
    for base in APPLICATION:
        for path in base.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"[a-z_]\w*(\.\w+)+", node.value):
                        ends.add(node.value.rsplit(".", 1)[1])
    return ends


def _serializer_method_fields() -> set[str]:
    """get_<field> for every SerializerMethodField (DRF calls it to fill the field)."""
    names: set[str] = set()
    for base in APPLICATION:
        for path in base.rglob("*.py"):
            text = path.read_text()
            names.update(
                f"get_{field}" for field in re.findall(r"(\w+) = \w+\.SerializerMethodField\(", text)
            )
    return names


def _serializer_fields() -> set[str]:
    """The names serializer fields read from the object they are given (the field's own name, or its
    `source`): a property a serializer names is how the answer gets that value."""
    names: set[str] = set()
    for base in APPLICATION:
        for path in base.rglob("*.py"):
            text = path.read_text()
            names.update(re.findall(r"^\s+(\w+) = (?:serializers|fields)\.\w+\(", text, re.M))
            names.update(re.findall(r"\bsource=\"(\w+)\"", text))
    return names


def _unused() -> list[str]:
    vulture = Vulture(ignore_decorators=DECORATORS)
    vulture.scavenge([str(p) for p in APPLICATION + USERS], exclude=["*/migrations/*"])
    used_elsewhere = _names_in_templates() | _dotted_path_ends()
    method_fields = _serializer_method_fields()
    read_by_serializers = _serializer_fields()
    found = []
    for item in vulture.get_unused_code(min_confidence=CONFIDENCE):
        path = Path(item.filename).resolve()
        if item.typ not in KINDS or not any(path.is_relative_to(base) for base in APPLICATION):
            continue
        name = item.name
        if name in used_elsewhere or name in HOOKS or name in method_fields:
            continue
        if item.typ == "property" and name in read_by_serializers:
            continue
        if item.typ == "method" and any(p.match(name) for p in HOOK_PATTERNS):
            continue
        if item.typ == "class" and any(p.search(name) for p in FRAMEWORK_CLASSES):
            continue
        found.append(f"{path.relative_to(ROOT)}:{item.first_lineno}: {item.typ} {name}")
    return sorted(found)


def test_vulture_finds_no_unused_function_method_class_or_property():
    assert _unused() == []


def test_the_check_would_see_an_unused_function(tmp_path):
    """The allow-list is names the frameworks call, not a blanket: a plain unused helper is reported."""
    module = tmp_path / "helpers.py"
    module.write_text("def used():\n    return 1\n\n\ndef never_called():\n    return 2\n\n\nused()\n")
    vulture = Vulture(ignore_decorators=DECORATORS)
    vulture.scavenge([str(module)])
    names = {item.name for item in vulture.get_unused_code(min_confidence=CONFIDENCE)}
    assert names == {"never_called"}
