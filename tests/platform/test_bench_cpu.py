"""bench/_cpu.py: the CPU time a load costs each side (web workers, PostgreSQL, the load's clients), read from
/proc. The benchmark prints these figures; here they are checked against processes whose work is known."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench import _cpu

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def proc(pid: int, ppid: int, comm: str, cpu: float) -> _cpu.Process:
    return _cpu.Process(pid=pid, ppid=ppid, comm=comm, cpu_s=cpu)


def test_the_app_is_the_server_process_and_all_its_descendants_postgres_is_every_postgres_process():
    table = [
        proc(1, 0, "init", 9.0),
        proc(10, 1, "python3", 1.0),  # the server (gunicorn's master)
        proc(11, 10, "python3", 2.0),  # a worker
        proc(12, 11, "python3", 0.5),  # a worker's own child
        proc(20, 1, "postgres", 3.0),
        proc(21, 20, "postgres", 0.25),
        proc(30, 1, "python3", 4.0),  # the benchmark itself
        proc(40, 1, "redis-server", 7.0),
    ]
    assert _cpu.grouped(table, app_pid=10, own_pid=30) == {
        "app": 3.5,
        "database": 3.25,
        "clients": 4.0,
        "other": 16.0,
    }


def test_a_process_that_ended_counts_only_what_it_spent_after_the_first_reading():
    """A PostgreSQL backend closes between two readings: its parent, the postmaster, now holds its whole
    life (10.5 s); only the 0.5 s after the first reading count, and a backend started meanwhile counts
    from zero."""
    before = {
        20: proc(20, 1, "postgres", 3.0),
        21: proc(21, 20, "postgres", 10.0),  # gone by the second reading
        30: proc(30, 1, "python3", 1.0),
    }
    now = {
        20: proc(20, 1, "postgres", 3.0 + 10.5),
        22: proc(22, 20, "postgres", 0.25),  # started meanwhile
        30: proc(30, 1, "python3", 1.5),
    }
    assert _cpu.spent(before, now, app_pid=99, own_pid=30) == {
        "app": 0.0,
        "database": 0.75,
        "clients": 0.5,
        "other": 0.0,
    }


def test_a_stat_line_whose_command_name_holds_spaces_and_parentheses_is_read_whole(tmp_path):
    (tmp_path / "77").mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    # utime 3 s, stime 1 s, and 0.5 s of children it has waited for (cutime), which count as its own.
    fields = ["S", "5"] + ["0"] * 9 + [str(3 * ticks), str(ticks), str(ticks // 2), "0"] + ["0"] * 28
    (tmp_path / "77" / "stat").write_text(f"77 (odd (name) x) {' '.join(fields)}\n")
    (tmp_path / "self").mkdir()  # not a process id: skipped
    expected = _cpu.Process(pid=77, ppid=5, comm="odd (name) x", cpu_s=3 + 1 + (ticks // 2) / ticks)
    assert _cpu.processes(tmp_path) == [expected]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads Linux's /proc")
def test_a_child_that_burns_a_known_amount_of_cpu_is_counted_to_the_app_and_not_elsewhere():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', {BURN.format(seconds=0.6)!r}])\n"
            "import time\ntime.sleep(30)\n",
        ]
    )
    try:
        meter = _cpu.Meter(app_pid=parent.pid)
        before = meter.read()
        own_before = time.process_time()
        deadline = time.monotonic() + 20
        spent = {}
        while time.monotonic() < deadline:
            spent = meter.since(before)
            if spent["app"] >= 0.6:
                break
            time.sleep(0.05)
        own = time.process_time() - own_before
    finally:
        parent.kill()
        parent.wait()
    # The grandchild's 0.6 s count to the app while it runs, and still once its parent has waited for it
    # and it is gone from /proc (its parent's cutime), plus two interpreters' start-up.
    assert 0.55 <= spent["app"] <= 1.5
    assert spent["clients"] == pytest.approx(own, abs=0.1)
    assert spent["database"] >= 0.0
