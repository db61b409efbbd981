"""CPU time by side of a load on this machine: the web server and its workers ("app"), PostgreSQL
("database"), the benchmark's own process with its client threads ("clients") and everything else.

A throughput ratio says how much more one kind of request costs than another; these figures say on which
side the difference lies, which decides what could close it (bench/load_reads.py prints them per phase).
Read from Linux's /proc (psutil would do the same but is not among the project's requirements). A process's
figure is its user and system time plus that of the children it has waited for, so a worker that exits
and is reaped by its master still counts to the app. PostgreSQL counts only when it runs on this machine:
every process named "postgres" is its, so another database's work (autovacuum after a large seed, another
benchmark) counts too; read it on a quiet server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("app", "database", "clients", "other")


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    comm: str
    cpu_s: float


def _stat(path: Path, ticks: int) -> Process | None:
    try:
        text = path.read_text()
    except OSError:  # gone since the folder was listed
        return None
    # The command name sits in parentheses and may itself hold spaces and parentheses: the last ")" ends it.
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()
    cpu_ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return Process(pid=int(pid), ppid=int(fields[1]), comm=comm, cpu_s=cpu_ticks / ticks)


def processes(proc: Path = Path("/proc")) -> list[Process]:
    """Every process's CPU time so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = (_stat(entry / "stat", ticks) for entry in proc.iterdir() if entry.name.isdigit())
    return sorted((p for p in found if p is not None), key=lambda p: p.pid)


def _descendants(table: list[Process], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in table:
        children.setdefault(p.ppid, []).append(p.pid)
    found, pending = {root}, [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def grouped(table: list[Process], *, app_pid: int, own_pid: int) -> dict[str, float]:
    """Seconds of CPU per group: the app is app_pid and all its descendants, the clients own_pid alone."""
    app = _descendants(table, app_pid)
    totals = dict.fromkeys(GROUPS, 0.0)
    for p in table:
        if p.pid in app:
            group = "app"
        elif p.pid == own_pid:
            group = "clients"
        elif p.comm.startswith("postgres"):
            group = "database"
        else:
            group = "other"
        totals[group] += p.cpu_s
    return totals


def spent(
    before: dict[int, Process], now: dict[int, Process], *, app_pid: int, own_pid: int
) -> dict[str, float]:
    """Seconds of CPU per group between two readings of processes(), by pid."""
    deltas = [
        Process(p.pid, p.ppid, p.comm, p.cpu_s - before[p.pid].cpu_s if p.pid in before else p.cpu_s)
        for p in now.values()
    ]
    # A process that ended meanwhile is gone from `now`, and the parent that waited for it (a PostgreSQL
    # backend whose connection closed: the postmaster) now counts its whole life: the part before the first
    # reading is taken off again. One that started meanwhile counts from zero.
    ended = [Process(p.pid, p.ppid, p.comm, -p.cpu_s) for p in before.values() if p.pid not in now]
    return grouped(deltas + ended, app_pid=app_pid, own_pid=own_pid)


@dataclass(frozen=True)
class Meter:
    """Reads the groups' CPU time around a phase of a load: `before = meter.read()`, then
    `meter.since(before)` gives what each group spent meanwhile."""

    app_pid: int

    def read(self) -> dict[int, Process]:
        return {p.pid: p for p in processes()}

    def since(self, before: dict[int, Process]) -> dict[str, float]:
        return spent(before, self.read(), app_pid=self.app_pid, own_pid=os.getpid())
