"""The worker logs to stderr as `orq worker` does (cli/src/worker/log.rs)."""

import json
import re

import pytest

from test_tasks import run_until

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def run_two_jobs(q, **worker_options):
    """One job that succeeds and one that fails; their ids."""

    @q.task("email", retries=0)
    def send(to):
        if to == "nobody":
            raise ValueError("no such address\nat all")
        return to

    ok, bad = send.delay("a@b.c").id, send.delay("nobody").id
    worker = q.worker(concurrency=1, **worker_options)
    run_until(worker, lambda: worker.done + worker.failed == 2)
    return ok, bad


def test_human_lines_by_default(q, capsys):
    ok, bad = run_two_jobs(q)
    lines = capsys.readouterr().err.splitlines()
    assert all(re.match(TIME + " ", line) for line in lines), lines
    text = [line.split(" ", 1)[1] for line in lines]
    assert text[0] == 'worker started: test-worker (concurrency 1, queues ["email"])'
    assert text[1] == f"job {ok} [email] attempt 1/1 started"
    assert re.fullmatch(rf"job {ok} \[email\] attempt 1/1 done in \d+\.\d{{3}}s", text[2])
    assert text[3] == f"job {bad} [email] attempt 1/1 started"
    # The error on one line; the job keeps its traceback as well.
    assert re.fullmatch(rf"job {bad} \[email\] attempt 1/1 failed in \d+\.\d{{3}}s: ValueError: no such address at all", text[4])
    assert text[5:] == ["worker stopping: letting 0 running job(s) finish", "worker stopped: 1 done, 1 failed"]
    assert "in send" in q.job(bad)["error"]


def test_json_lines(q, capsys):
    ok, bad = run_two_jobs(q, log_format="json")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert all(re.fullmatch(TIME, line.pop("time")) for line in lines)
    durations = [line.pop("duration") for line in lines if "duration" in line]
    assert len(durations) == 2 and all(isinstance(d, float) and d >= 0 for d in durations)
    job = {"queue": "email", "attempt": 1, "max_attempts": 1}
    assert lines == [
        {"event": "worker.started", "message": 'test-worker (concurrency 1, queues ["email"])'},
        {"event": "job.started", "job": ok, **job, "outcome": "started"},
        {"event": "job.done", "job": ok, **job, "outcome": "done"},
        {"event": "job.started", "job": bad, **job, "outcome": "started"},
        {"event": "job.failed", "job": bad, **job, "outcome": "failed", "error": "ValueError: no such address\nat all"},
        {"event": "worker.stopping", "message": "letting 0 running job(s) finish"},
        {"event": "worker.stopped", "message": "1 done, 1 failed"},
    ]


def test_quiet_logs_nothing(q, capsys):
    run_two_jobs(q, log_format="quiet")
    assert capsys.readouterr().err == ""


def test_the_environment_chooses_when_the_code_does_not(q, capsys, monkeypatch):
    monkeypatch.setenv("ORQ_LOG_FORMAT", "quiet")
    run_two_jobs(q)
    assert capsys.readouterr().err == ""
    # An explicit log_format wins over the environment.
    run_two_jobs(q, log_format="json")
    assert json.loads(capsys.readouterr().err.splitlines()[0])["event"] == "worker.started"


def test_an_unknown_format_is_refused(q, monkeypatch):
    with pytest.raises(ValueError, match="log_format must be one of human, json, quiet; got 'loud'"):
        q.worker("email", log_format="loud")
    monkeypatch.setenv("ORQ_LOG_FORMAT", "verbose")
    with pytest.raises(ValueError, match="ORQ_LOG_FORMAT must be one of human, json, quiet; got 'verbose'"):
        q.worker("email")
