"""The tests run once per driver, in separate processes (tests/run):
ORQ_TEST_DRIVER=sqlite3 (Debian's stdlib module, SQLite 3.40.1) and
ORQ_TEST_DRIVER=apsw (its own, current SQLite). One process can use orq
through one SQLite library only."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import orq  # noqa: E402  (the installed package, not the source tree: see tests/run)


DRIVER = os.environ.get("ORQ_TEST_DRIVER", "sqlite3")


def only(driver):
    """Marks a test that belongs to the run of one driver."""
    return pytest.mark.skipif(DRIVER != driver, reason=f"runs with ORQ_TEST_DRIVER={driver}")


@pytest.fixture
def driver():
    return DRIVER


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "q.db")


@pytest.fixture
def q(db_path, driver):
    with orq.Queue(db_path, driver=driver, name="test-worker") as queue:
        yield queue
