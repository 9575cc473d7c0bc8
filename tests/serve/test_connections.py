"""`orq serve` against clients that hold connections: half-sent headers,
idle keep-alive and idle sockets beyond the connection cap, an oversized
body, SIGTERM while a connection is half open, and memory after thousands
of connections. Raw sockets on loopback; every loop is bounded."""
import json
import os
import signal
import socket
import subprocess
import time

import requests

from conftest import wait_for

SHUTDOWN_GRACE = 5  # seconds; connections.rs


def address(s):
    host, port = s.base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(s, send=b""):
    sock = socket.create_connection(address(s), timeout=10)
    if send:
        sock.sendall(send)
    return sock


def closed_after(sock, limit):
    """Seconds until the server closed `sock` (EOF or reset), or None if it
    stayed open `limit` seconds. Whatever the server sends first (a response
    in flight) is read and skipped."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionError:
            return time.monotonic() - start
    return None


def read_response(sock):
    """One HTTP/1.1 response with a Content-Length: (status line, body)."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0].decode(), body


def socket_fds(pid):
    """How many sockets the process holds open."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except FileNotFoundError:
            pass
    return n


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


HALF_A_HEADER = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def test_a_half_sent_header_is_closed_after_the_header_timeout(serve):
    s = serve("--header-timeout", "1s")
    sock = connect(s, HALF_A_HEADER)
    took = closed_after(sock, 6)
    assert took is not None, "a half-sent header held its connection for 6 s"
    assert 0.8 < took < 3, took
    assert s.get("/health").status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout(serve):
    s = serve("--header-timeout", "1s")
    sock = connect(s, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, _ = read_response(sock)
    assert status == "HTTP/1.1 200 OK"
    took = closed_after(sock, 6)
    assert took is not None, "an idle keep-alive connection stayed open for 6 s"
    assert 0.8 < took < 3, took


def test_at_the_cap_new_connections_close_the_oldest_idle_ones(serve):
    s = serve("--max-connections", "8", "--header-timeout", "30s")
    before = socket_fds(s.proc.pid)  # the listener, tokio's signal pipe
    idle = [connect(s, HALF_A_HEADER if i % 2 else b"") for i in range(40)]
    time.sleep(1)
    assert socket_fds(s.proc.pid) - before == 8
    # The first 32 made room for the next ones, oldest first, long before
    # their header timeout; the last 8 are still open.
    assert all(closed_after(sock, 0.5) is not None for sock in idle[:32])
    assert all(closed_after(sock, 0.2) is None for sock in idle[32:])
    start = time.monotonic()
    assert s.get("/health").status_code == 200
    assert time.monotonic() - start < 1
    for sock in idle:
        sock.close()


def test_an_event_stream_is_not_closed_to_make_room(conn, serve):
    s = serve("--max-connections", "2", "--header-timeout", "30s")
    with requests.get(s.url("/events/stream"), stream=True, timeout=10) as r:
        snapshots = (json.loads(line[5:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data:"))
        ready = next(snapshots)["totals"].get("ready", 0)
        idle = [connect(s) for _ in range(5)]
        assert s.get("/health").status_code == 200
        conn.execute("SELECT queue_enqueue('late', '{}')")
        assert next_with_ready(snapshots, ready + 1)
        for sock in idle:
            sock.close()


def next_with_ready(snapshots, ready):
    """Reads snapshots (the charts move with time, too) until one counts
    `ready` jobs ready; each read waits 10 s at most."""
    for _, snapshot in zip(range(20), snapshots):
        if snapshot["totals"].get("ready", 0) == ready:
            return snapshot
    raise AssertionError(f"the stream never showed {ready} ready jobs")


def test_the_event_stream_outlives_the_header_timeout(conn, serve):
    s = serve("--header-timeout", "1s")
    with requests.get(s.url("/events/stream"), stream=True, timeout=10) as r:
        snapshots = (json.loads(line[5:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data:"))
        ready = next(snapshots)["totals"].get("ready", 0)
        time.sleep(2.5)  # past the header timeout, with nothing sent
        conn.execute("SELECT queue_enqueue('late', '{}')")
        assert next_with_ready(snapshots, ready + 1)


def test_a_client_that_reads_nothing_is_closed_after_the_header_timeout(serve):
    s = serve("--header-timeout", "1s", "--token", "s3cret")
    before = socket_fds(s.proc.pid)
    sock = connect(s)
    sock.settimeout(0.5)
    # Pipelined requests (each answered 401, no token needed to send them)
    # until the responses fill every buffer and the server's writes wait.
    requests_ = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 1000
    for _ in range(2000):
        try:
            sock.sendall(requests_)
        except (socket.timeout, ConnectionError):
            break
    else:
        raise AssertionError("the server read 80 MB of requests without writing a response")
    assert socket_fds(s.proc.pid) - before == 1
    wait_for(lambda: socket_fds(s.proc.pid) == before, timeout=6, what="the server to close the connection")
    sock.close()
    assert s.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_a_request_body_over_the_limit_is_refused(serve):
    s = serve()
    csrf = {"X-CSRF-Token": s.csrf(), "Content-Type": "application/json"}
    small = json.dumps({"queue": "email", "older_than": "1h"})
    padded = small[:-1] + " " * (100 * 1024) + "}"  # still valid JSON
    assert s.post("/api/purge", headers=csrf, data=small).status_code == 200
    assert s.post("/api/purge", headers=csrf, data=padded).status_code == 413


def test_sigterm_with_a_half_open_connection_exits_at_once(serve):
    s = serve()  # the default header timeout (10 s) is longer than the grace
    sock = connect(s, HALF_A_HEADER)
    time.sleep(0.3)
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    try:
        code = s.proc.wait(SHUTDOWN_GRACE + 3)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {SHUTDOWN_GRACE + 3} s after SIGTERM with a half-open connection")
    finally:
        sock.close()
    assert code == 0
    # Nothing was in flight: nothing to wait for.
    assert time.monotonic() - start < 2


def test_memory_returns_near_baseline_after_thousands_of_connections(serve):
    s = serve("--header-timeout", "1s")
    pid = s.proc.pid
    for _ in range(5):
        assert s.get("/health").status_code == 200
    # (<= below: the last /health's socket may not be closed yet here)
    baseline, sockets = rss_mb(pid), socket_fds(pid)
    peak = baseline
    for _ in range(2):  # 2,000 connections, each sending half a header
        batch = [connect(s, HALF_A_HEADER + b"x" * 4000) for _ in range(1000)]
        time.sleep(1)
        peak = max(peak, rss_mb(pid))
        for sock in batch:
            sock.close()
    wait_for(lambda: socket_fds(pid) <= sockets, timeout=20, what="the connections to close")
    assert s.get("/health").status_code == 200
    after = rss_mb(pid)
    print(f"RSS baseline {baseline:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB")
    assert peak - baseline < 30, (baseline, peak)
    assert after - baseline < 20, (baseline, after)
