"""Fixtures for driving liborq from Python's stdlib sqlite3 module.

Debian's /usr/bin/python3 allows extension loading; interpreters built
without it (like pyenv's default build) cannot run these tests.
"""
import os
import pathlib
import sqlite3

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXT = os.environ.get("ORQ_EXT", str(ROOT / "target" / "release" / "liborq.so"))


def connect(path, **kwargs):
    """A connection with orq loaded, in autocommit, as orq recommends."""
    conn = sqlite3.connect(path, isolation_level=None, **kwargs)
    if not hasattr(conn, "enable_load_extension"):
        pytest.skip("this Python's sqlite3 cannot load extensions; use Debian's /usr/bin/python3")
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.enable_load_extension(False)
    return conn


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "queue.db")
