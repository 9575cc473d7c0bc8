"""The pytest fixture of the cluster suites: three orq-nodes on loopback
with a leader elected, stopped afterwards. A test module imports one of
the two (both are named `cluster` in tests):

    from fixtures import cluster          # a cluster for each test
    from fixtures import shared_cluster   # one for the module's tests
"""
import pytest

from nodes import Cluster


def three_nodes(work):
    c = Cluster(work, 3)
    c.wait_for_leader()
    return c


@pytest.fixture
def cluster(tmp_path):
    c = three_nodes(tmp_path)
    yield c
    c.stop()


@pytest.fixture(scope="module", name="cluster")
def shared_cluster(tmp_path_factory):
    c = three_nodes(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()
