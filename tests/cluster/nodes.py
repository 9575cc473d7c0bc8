"""Clusters of `orq-node`s on loopback ports for the tests of tests/cluster:
each node its own process and data directory. tests/run builds orq-node
(target/release/orq-node) and the orq CLI before these tests run.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE = os.environ.get("ORQ_NODE_BIN", str(ROOT / "target" / "release" / "orq-node"))
ORQ = os.environ.get("ORQ_BIN", str(ROOT / "target" / "bundled" / "release" / "orq"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Nodes 1..n; node 1 bootstraps, the others join it."""

    def __init__(self, work, size):
        self.work = pathlib.Path(work)
        self.addresses = {i: f"127.0.0.1:{free_port()}" for i in range(1, size + 1)}
        self.procs = {}
        for i in self.addresses:
            self.start(i)

    @property
    def spec(self):
        return ",".join(self.addresses.values())

    def start(self, i):
        """Starts node i (again): a first start of i > 1 joins node 1. Raft's
        timeouts follow --latency-ms: $ORQ_NODE_LATENCY_MS, default 10."""
        argv = [NODE, "--id", str(i), "--address", self.addresses[i], "--data-dir", str(self.work / f"node{i}"),
                "--latency-ms", os.environ.get("ORQ_NODE_LATENCY_MS", "10")]
        if i > 1:
            argv += ["--join", self.addresses[1] if 1 in self.procs else self.spec]
        log = open(self.work / f"node{i}.log", "a")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        line = proc.stdout.readline()
        assert line.startswith("ready"), f"node {i} did not start: {line!r}; see {self.work}/node{i}.log"
        self.procs[i] = proc

    def kill(self, i):
        os.killpg(self.procs[i].pid, signal.SIGKILL)
        self.procs.pop(i).wait()

    def orq(self, *args, check=True, nodes=None, timeout=120):
        spec = nodes or self.spec
        done = subprocess.run([ORQ, "--cluster", spec, *args], capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, f"orq {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def sql(self, statement, nodes=None):
        """Rows of a statement run on the leader, as JSON objects."""
        return json.loads(self.orq("--json", "sql", statement, nodes=nodes).stdout)

    def status(self):
        return json.loads(self.orq("--json", "cluster", "status").stdout)

    def leader(self):
        for node in self.status():
            if node["leader"]:
                return node["id"]
        raise AssertionError("no leader")

    def wait_for_leader(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = self.orq("--json", "cluster", "status", check=False, timeout=timeout)
            if done.returncode == 0 and any(n["leader"] for n in json.loads(done.stdout)):
                return
            time.sleep(0.1)
        raise AssertionError("no leader elected")

    def stop(self):
        for i in list(self.procs):
            self.kill(i)
