"""Strict readers for settings taken from the environment.

django-environ parses URLs well, but treats any unknown string as a false boolean ("DEBUG=ture" would
silently mean False). An operator's typo must stop the process with a message naming the variable, so
the scalar readers here refuse anything they do not understand.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    """Typed, strict access to a mapping of environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    @overload
    def str(self, name: str, default: str) -> str: ...
    @overload
    def str(self, name: str, default: None = None) -> str | None: ...

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of {sorted(_TRUE | _FALSE)}.")

    def int(self, name: builtins.str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below its minimum of {minimum}.")
        return number

    def list(self, name: builtins.str, default: list[builtins.str]) -> list[builtins.str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: builtins.str, default: builtins.str, choices: set[builtins.str]) -> builtins.str:
        value = self.str(name, default)
        assert value is not None
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} must be one of {sorted(choices)}.")
        return value
