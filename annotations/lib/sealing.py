"""Sealing short secrets the server must read back, such as a webhook's signing secret: unlike a password
or an API token, which are kept as digests, it is needed as it is to sign each delivery.

Fernet (AES-128-CBC with an HMAC-SHA256 tag, from the cryptography package) under keys derived with
HKDF-SHA256 from the server's secret keys, one derivation per purpose. Sealing uses the first key;
unsealing tries each in turn, so a key rotated with the old one kept among the fallbacks still reads
what the old one sealed. Pure: the keys are passed in.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unreadable(Exception):
    """The sealed text was not sealed under any of the keys given (or was altered)."""


def sealing_key(secret: str, purpose: str) -> bytes:
    """A Fernet key for `purpose`, derived from one of the server's secret keys."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


def _fernet(keys: Sequence[bytes]) -> MultiFernet:
    if not keys:
        raise ValueError("no sealing key")
    return MultiFernet([Fernet(key) for key in keys])


def seal(text: str, keys: Sequence[bytes]) -> str:
    return _fernet(keys).encrypt(text.encode()).decode("ascii")


def unseal(sealed: str, keys: Sequence[bytes]) -> str:
    try:
        return _fernet(keys).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise Unreadable("sealed under another key, or altered") from error
