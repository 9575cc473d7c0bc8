"""The worker's log: one line per event on stderr, in the words and fields
of ``orq worker`` (``--log-format human|json|quiet``), so that a Python
worker's log reads like the CLI's and feeds the same pipelines."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .jobs import Job

FORMATS = ("human", "json", "quiet")
# Human lines show this much of an error (the job keeps all of it).
ERROR_CHARS = 200


def chosen_format(chosen: Optional[str]) -> str:
    """The format asked for, else ``$ORQ_LOG_FORMAT``, else human."""
    name = chosen if chosen is not None else os.environ.get("ORQ_LOG_FORMAT") or "human"
    if name not in FORMATS:
        origin = "log_format" if chosen is not None else "ORQ_LOG_FORMAT"
        raise ValueError(f"{origin} must be one of {', '.join(FORMATS)}; got {name!r}")
    return name


class Log:
    def __init__(self, format: str):
        self.format = format
        # Worker threads log at once; a line must not be cut by another.
        self._lock = threading.Lock()

    def job(self, job: "Job", outcome: str, duration: Optional[float] = None, error: Optional[str] = None) -> None:
        """``outcome``: started, done, failed, lost or suspended (it sleeps or waits
        without a worker); ``error`` says why it failed."""
        if self.format == "json":
            line = {"time": now(), "event": f"job.{outcome}", "job": job.id, "queue": job.queue,
                    "attempt": job.attempt, "max_attempts": job.max_attempts, "outcome": outcome}
            if duration is not None:
                line["duration"] = round(duration, 3)
            if error is not None:
                line["error"] = error
            self._write(json.dumps(line, separators=(",", ":")))
        elif self.format == "human":
            text = f"{now()} job {job.id} [{job.queue}] attempt {job.attempt}/{job.max_attempts} {outcome}"
            if duration is not None:
                text += f" in {duration:.3f}s"
            if error is not None:
                text += f": {cut(error, ERROR_CHARS)}"
            self._write(text)

    def worker(self, event: str, message: str) -> None:
        """A line about the worker itself: started, stopping, stopped."""
        if self.format == "json":
            self._write(json.dumps({"time": now(), "event": f"worker.{event}", "message": message}, separators=(",", ":")))
        elif self.format == "human":
            self._write(f"{now()} worker {event}: {message}")

    def _write(self, line: str) -> None:
        with self._lock:
            # sys.stderr looked up now: whoever redirected it gets the line.
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def now() -> str:
    """``2026-11-26T13:02:11.123Z``, as the CLI writes times."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cut(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters."""
    flat = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
