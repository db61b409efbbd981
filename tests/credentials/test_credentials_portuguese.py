"""The token and two-factor pages in Portuguese: no English sentence of the catalogue left on them."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.cross.test_i18n import _visible, catalogue, english_msgids  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_people_tokens_and_two_factor_pages_read_in_portuguese(client, english_msgids, ana, diego):  # noqa: F811
    client.force_login(diego)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    shown = client.post("/people/tokens/", {"user": ana.pk, "name": "script", "scope": "reader", "days": 5})
    started = client.post("/accounts/two-factor/start/")
    pages = {
        "token shown": shown,
        "people": client.get("/people/"),
        "two-factor off": client.get("/accounts/two-factor/"),
        "two-factor started": started,
    }
    for name, response in pages.items():
        texts = _visible(response.getvalue().decode())
        visible = "\n".join(texts)
        assert "Tokens de API" in visible or "duas etapas" in visible, name
        assert sorted(t for t in texts if t in english_msgids) == [], name
