"""Who holds an flock, and in what state: for the message of a producer that gave up waiting
for the ring lock (a holder stopped by SIGSTOP, a debugger or a cgroup freezer)."""

from __future__ import annotations

import os
from pathlib import Path

_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "in uninterruptible I/O",
    "T": "stopped",
    "t": "stopped by a debugger",
    "Z": "a zombie",
}


def flock_holders(fd: int, proc: Path = Path("/proc"), *, exclusive: bool = False) -> list[int]:
    """Pids that hold an flock on the file open as `fd` (waiters excluded), from /proc/locks;
    with `exclusive`, only holders of LOCK_EX (a writer, not a shared liveness probe)."""
    st = os.fstat(fd)
    inode = f":{st.st_ino}"
    holders = []
    try:
        lines = (proc / "locks").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:56789 0 EOF"; waiters have "->" after "1:".
        if len(fields) < 6 or fields[1] != "FLOCK" or not fields[5].endswith(inode):
            continue
        if exclusive and fields[3] != "WRITE":
            continue
        if fields[4].isdigit():
            holders.append(int(fields[4]))
    return holders


def process_state(pid: int, proc: Path = Path("/proc")) -> str:
    """`pid`'s scheduler state in words ("stopped", "running", ...), or "gone"."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return "gone"
    # The command name is in parentheses and may contain spaces: the state follows the last ")".
    code = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    return _STATES.get(code, f"in state {code!r}")


def describe_holders(fd: int) -> str:
    """E.g. "pid 4242 (stopped)", for a message; "an unknown process" if none is listed."""
    pids = [pid for pid in flock_holders(fd) if pid != os.getpid()]
    if not pids:
        return "an unknown process"
    return ", ".join(f"pid {pid} ({process_state(pid)})" for pid in pids)
