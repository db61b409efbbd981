"""The keys webhook secrets are sealed with: derived from SECRET_KEY, then each of SECRET_KEY_FALLBACKS,
so that rotating SECRET_KEY the way Django documents it (the old key kept among the fallbacks until the
rotation is over) leaves every subscription readable."""

from __future__ import annotations

from django.conf import settings

from annotations.lib.sealing import sealing_key

PURPOSE = "ecg-review webhook signing secret"


def sealing_keys() -> list[bytes]:
    keys: list[str] = [str(settings.SECRET_KEY), *settings.SECRET_KEY_FALLBACKS]
    return [sealing_key(key, PURPOSE) for key in keys]
