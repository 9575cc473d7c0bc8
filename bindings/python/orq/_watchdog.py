"""The watchdog of a Python worker: ``python -m orq._watchdog MARKER PID``.

A worker's handlers run in its own process, so no keeper stands between the
worker and what a handler starts (compare ``orq worker``'s job keeper). The
worker starts this process at ``run()``, in a session of its own, with a
pipe on its stdin, and puts MARKER in its own environment: every process a
handler starts inherits it, double-forked and setsid'd ones too. When the
pipe closes — the worker stopped, or died, even of SIGKILL (the kernel
closes its end) — the watchdog kills every process of this user whose
environment holds MARKER, except the worker itself (PID) and itself.

Limits: a process started with an environment of its own (``env=``
without MARKER, ``env -i``), one of another user, one the worker's process
started outside a handler while the worker ran (same environment), and a
process that was forked without exec and holds the pipe open (it keeps the
watchdog waiting until it ends). Killing the watchdog itself turns it off.
"""

from __future__ import annotations

import os
import signal
import sys

ROUNDS = 50  # a process forking as fast as it is killed is still caught


def marked(marker: bytes, skip: set[int]) -> list[int]:
    """Pids whose environment holds ``marker`` (a NAME=value entry)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            pass  # gone, or not ours
    return found


def kill_marked(marker: bytes, skip: set[int]) -> None:
    for _ in range(ROUNDS):
        pids = marked(marker, skip)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def main() -> None:
    marker, worker = sys.argv[1].encode(), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is for the worker
    while sys.stdin.buffer.read(4096):
        pass
    kill_marked(marker, {os.getpid(), worker})


if __name__ == "__main__":
    main()
