"""Fixtures for testing `orq serve` over real HTTP on loopback.

Each test starts the real binary (target/bundled/release/orq) on a free
port (--bind 127.0.0.1:0; the port is read from the line it prints) against
a database of its own, and drives the queue from this process through
liborq loaded into Python's sqlite3, or through the orq command.
"""
import os
import pathlib
import re
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
ORQ = os.environ.get("ORQ_BIN", str(ROOT / "target" / "bundled" / "release" / "orq"))
EXT = os.environ.get("ORQ_EXT", str(ROOT / "target" / "release" / "liborq.so"))


class Server:
    """A running `orq serve`; its stderr is collected in `lines`."""

    def __init__(self, db, args, env=None):
        self.lines = []
        self.proc = subprocess.Popen(
            [ORQ, "--db", db, "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.base = None
        started = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"http://([^/\s]+)/", line)
                if m and not self.base:
                    self.base = f"http://{m.group(1)}"
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(20) or not self.base:
            self.stop()
            raise RuntimeError(f"orq serve did not start: {self.lines}")

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        return requests.get(self.url(path), timeout=10, **kw)

    def post(self, path, **kw):
        return requests.post(self.url(path), timeout=10, **kw)

    def csrf(self, session=None):
        page = (session or requests).get(self.url("/"), timeout=10).text
        return re.search(r'name="orq-csrf" content="([0-9a-f]+)"', page).group(1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "queue.db")


@pytest.fixture
def conn(db):
    """A connection to the test database with orq loaded, in autocommit."""
    c = sqlite3.connect(db, isolation_level=None, timeout=5)
    c.enable_load_extension(True)
    c.load_extension(EXT)
    c.enable_load_extension(False)
    yield c
    c.close()


@pytest.fixture
def serve(db):
    """serve(*args, env=None) starts a server; all are stopped after the test."""
    servers = []

    def start(*args, env=None):
        bind = [] if "--bind" in args else ["--bind", "127.0.0.1:0"]
        s = Server(db, [*bind, *args], env)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def orq(db, *args, check=True):
    """Runs the orq command; returns the CompletedProcess."""
    p = subprocess.run([ORQ, "--db", db, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"orq {args}: exit {p.returncode}: {p.stderr}")
    return p


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
