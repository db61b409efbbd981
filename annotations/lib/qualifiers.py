"""Statement qualifiers: where a finding is (wall or territory) and, where a taxonomy tells them apart, how
old it is. A taxonomy declares which of these a statement takes; a read picks among them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Display order, and the order a read's qualifiers are kept in (two reads choosing the same qualifiers
# in another order hold the same list).
TERRITORIES = ("inferior", "anterior", "septal", "lateral", "posterior", "extensive")
AGES = ("acute", "old")
QUALIFIERS = TERRITORIES + AGES
# A finding is acute or old, never both; the walls combine (inferolateral, anteroseptal).
EXCLUSIVE = (frozenset(AGES),)


def qualifiers_ordered(chosen: Iterable[str]) -> list[str]:
    """The chosen qualifiers, once each, in the vocabulary's order (unknown ones last, as given)."""
    unique = list(dict.fromkeys(chosen))
    known = [q for q in QUALIFIERS if q in unique]
    return known + [q for q in unique if q not in QUALIFIERS]


def qualifier_conflicts(chosen: Iterable[str]) -> list[frozenset[str]]:
    """The exclusive groups the chosen qualifiers name more than one of."""
    picked = set(chosen)
    return [group for group in EXCLUSIVE if len(group & picked) > 1]


def label_snapshot(code: str, uncertain: bool, qualifiers: list[str]) -> dict[str, Any]:
    """A label as the reading API shows it and a revision keeps it: qualifiers only where chosen, so a read
    without any reads as it did before qualifiers existed."""
    return {"code": code, "uncertain": uncertain, **({"qualifiers": qualifiers} if qualifiers else {})}
