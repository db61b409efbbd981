"""What a reader's pages and API call an assignment: an opaque reference, never its database id.

Ids are handed out in order, so a reader who saw them would learn what blinding hides: a retest re-read
is created with the id next to its first read's, and an escalation's extra read or a skipped exam handed
on gets an id far above the rest of the batch (others disagreed, or skipped it). The reference is the id
encrypted with a key drawn from SECRET_KEY, one AES block (a keyed permutation: every id has one
reference, and no reference tells anything of another); 8 fixed bytes inside make any other string
name no assignment, and answer the same 404 as an assignment that is not the reader's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.urls import register_converter

_MARK = b"ecg-asgn"  # the first half of every plain block
REF_PATTERN = "[A-Za-z0-9_-]{22}"


@lru_cache(maxsize=4)
def _cipher(secret: str) -> Cipher[modes.ECB]:
    key = hashlib.sha256(b"annotations.assignment-ref\0" + secret.encode()).digest()[:16]
    # ECB on a single block is the plain block cipher: exactly the keyed permutation wanted here.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def assignment_ref(pk: int) -> str:
    """The reader-facing reference of assignment `pk` (22 URL-safe characters)."""
    encryptor = _cipher(settings.SECRET_KEY).encryptor()
    block = encryptor.update(_MARK + int(pk).to_bytes(8, "big")) + encryptor.finalize()
    return base64.urlsafe_b64encode(block).rstrip(b"=").decode()


def assignment_ref_or_none(pk: int | None) -> str | None:
    return None if pk is None else assignment_ref(pk)


def assignment_pk(ref: str) -> int | None:
    """The assignment a reference names; None for anything that is not one."""
    try:
        block = base64.urlsafe_b64decode(ref + "==")
    except (binascii.Error, ValueError):
        return None
    if len(block) != 16:
        return None
    decryptor = _cipher(settings.SECRET_KEY).decryptor()
    plain = decryptor.update(block) + decryptor.finalize()
    return int.from_bytes(plain[8:], "big") if plain[:8] == _MARK else None


class AssignmentRefConverter:
    """`<ref:name>` in a route: the view gets the id; reverse() takes an id (or a reference)."""

    regex = REF_PATTERN

    def to_python(self, value: str) -> int:
        # Not a reference: id 0, which no assignment has, so that the view answers its own 404 ("no such
        # assignment"), as it does for another reader's; a route left unmatched answered otherwise, and
        # told a reader which made-up strings were real references.
        pk = assignment_pk(value)
        return 0 if pk is None else pk

    def to_url(self, value: int | str) -> str:
        return value if isinstance(value, str) else assignment_ref(value)


register_converter(AssignmentRefConverter, "ref")
