"""Every URL the project serves, generated from the URL configuration (not picked by hand)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Served to anonymous visitors on purpose: the login forms and what they need.
# Served to a signed-out visitor: the login forms, and single sign-on's start, the provider's return to
# it and the provider's back-channel logout (all 404 while no OpenID provider is configured: tests/sso/).
PUBLIC = {
    "/accounts/login/",
    "/admin/login/",
    "/accounts/sso/login/",
    "/accounts/sso/callback/",
    "/accounts/sso/backchannel-logout/",
}
# Posted to server to server by the OpenID provider, with no browser and so no CSRF cookie: the signed
# logout token is what it is checked by (tests/sso/test_backchannel_logout.py).
CSRF_EXEMPT = {"/accounts/sso/backchannel-logout/"}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_SAMPLE = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x"}


@dataclass(frozen=True)
class Route:
    path: str  # with sample values
    name: str | None
    template: str = ""  # as declared, "<int:pk>" and all, for filling with real ids

    @property
    def params(self) -> list[str]:
        return [m.group(2) for m in _PARAM.finditer(self.template)]

    def fill(self, values: dict[str, object]) -> str:
        return _PARAM.sub(lambda m: _value(m.group(1), values[m.group(2)]), self.template)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def _value(converter: str | None, value: object) -> str:
    """A route's value as its converter writes it: an assignment id as the reader's reference."""
    if converter == "ref" and not isinstance(value, str):
        from annotations.selectors.reading.refs import assignment_ref

        return assignment_ref(int(value))
    return str(value)


def _sample(converter: str | None) -> str:
    return _value("ref", 1) if converter == "ref" else _SAMPLE.get(converter or "str", "x")


def _regex_to_path(regex: str) -> str | None:
    # Admin patterns are regular expressions; keep the ones we can write out with a sample value.
    text = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)
    return None if any(c in text for c in "()[]*+?\\|") else text


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        route = str(entry.pattern)
        if getattr(entry.pattern, "_regex", None) and not hasattr(entry.pattern, "_route"):
            route = _regex_to_path(entry.pattern._regex)
            if route is None:
                continue
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            template = "/" + prefix + route
            path = _PARAM.sub(lambda m: _sample(m.group(1)), template)
            yield Route(path=path, name=entry.name, template=template)


def all_routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        seen.setdefault(route.path, route)
    return sorted(seen.values(), key=lambda r: r.path)


def protected_routes() -> list[Route]:
    return [r for r in all_routes() if r.path not in PUBLIC]
