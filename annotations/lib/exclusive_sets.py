"""Exclusive sets of a taxonomy: statements a reader must not choose together. Pure Python, no Django.

The server's check (authoritative) and static/js/ecg/paper.js (instant feedback in the browser) follow
the same rule: within one set, any two chosen members conflict; a token such as '*diagnostic*' stands
for every statement of that kind that is not itself named in the set ("normal ECG excludes any other
diagnosis"), and a member written '!CODE' takes CODE out of what the token stands for ("... except sinus
rhythm").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

TOKENS = {"*diagnostic*": "diagnostic", "*quality*": "quality"}
EXEMPT = "!"


def exempted(members: Sequence[str]) -> set[str]:
    """Codes a set's token does not stand for: its members written '!CODE'."""
    return {code[len(EXEMPT) :] for code in members if code.startswith(EXEMPT)}


@dataclass(frozen=True)
class Conflict:
    first: str
    second: str


def exclusive_conflicts(
    chosen: Iterable[str], kinds: Mapping[str, str], exclusive_sets: Sequence[Sequence[str]]
) -> list[Conflict]:
    """Every pair of chosen codes that some exclusive set forbids, in a stable order, each pair once."""
    chosen_in_order = list(dict.fromkeys(chosen))
    found: list[Conflict] = []
    seen: set[frozenset[str]] = set()
    for members in exclusive_sets:
        named = [code for code in members if code not in TOKENS and not code.startswith(EXEMPT)]
        token_kinds = {TOKENS[code] for code in members if code in TOKENS}
        spared = exempted(members)
        hits = [code for code in chosen_in_order if code in named]
        if token_kinds:
            hits += [
                code
                for code in chosen_in_order
                if code not in named and code not in spared and kinds.get(code) in token_kinds
            ]
        for i, first in enumerate(hits):
            for second in hits[i + 1 :]:
                # A token only stands for the others: two statements both matched by the token alone
                # (two ordinary diagnoses) do not conflict with each other.
                if first not in named and second not in named:
                    continue
                pair = frozenset((first, second))
                if pair not in seen:
                    seen.add(pair)
                    found.append(Conflict(first, second))
    return found
