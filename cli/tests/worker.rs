//! `orq worker`, `orq run` and `orq watch` with real processes: shell
//! commands as jobs, signals, crashes, time limits, heartbeats, routing,
//! and systemd's notification socket.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{finish, processes_with, signal, work, Db};

#[test]
fn a_command_gets_the_payload_on_stdin_and_the_job_in_its_environment() {
    let db = Db::new("command");
    db.ok(&["enqueue", "q", r#"{"n":7}"#], 0);
    let script = r#"read payload; printf '{"payload":%s,"id":%s,"queue":"%s","attempt":%s,"token":%s}' "$payload" "$ORQ_JOB_ID" "$ORQ_QUEUE" "$ORQ_ATTEMPT" "$ORQ_TOKEN""#;
    let log = work(&db, &["--", "sh", "-c", script], "SELECT done = 1 FROM queue_stats");
    assert_eq!(
        db.one::<String>("SELECT result FROM queue_jobs WHERE id = 1"),
        r#"{"payload":{"n":7},"id":1,"queue":"q","attempt":1,"token":1048577}"#
    );
    assert!(
        log.contains("job 1 [q] attempt 1/5 started") && log.contains("job 1 [q] attempt 1/5 done in"),
        "{log}"
    );
}

#[test]
fn a_command_that_puts_its_job_to_sleep_is_logged_suspended_not_done() {
    let db = Db::new("command-sleeps");
    db.ok(&["enqueue", "q", "{}"], 0);
    let script = format!(
        r#"{} --db "$ORQ_DB" sql "SELECT queue_sleep($ORQ_JOB_ID, $ORQ_TOKEN, 3600)" > /dev/null"#,
        env!("CARGO_BIN_EXE_orq")
    );
    let log = work(
        &db,
        &["--", "sh", "-c", &script],
        "SELECT count(*) = 1 FROM queue_history(1) WHERE type = 'slept'",
    );
    assert!(log.contains("job 1 [q] attempt 1/5 suspended in"), "{log}");
    assert!(!log.contains(" done in"), "{log}");
    assert_eq!(db.one::<i64>("SELECT attempts FROM queue_jobs WHERE id = 1"), 0);
}

#[test]
fn payload_commands_run_through_sh_and_failures_retry_then_dead_letter() {
    let db = Db::new("cmd");
    db.ok(&["enqueue", "q", "--cmd", "echo plain words"], 0);
    db.ok(
        &[
            "enqueue",
            "q",
            "--cmd",
            "echo 'disk on fire' >&2; exit 3",
            "--max-attempts",
            "2",
            "--options",
            r#"{"backoff":{"base":0.05}}"#,
        ],
        0,
    );
    db.ok(&["enqueue", "q", r#"{"not":"a command"}"#, "--max-attempts", "1"], 0);
    let log = work(&db, &["-c", "2"], "SELECT done + dead = 3 FROM queue_stats");
    let jobs = db.json(&["jobs"]);
    let by_id = |id: i64| jobs.as_array().unwrap().iter().find(|j| j["id"] == id).unwrap().clone();
    assert_eq!(by_id(1)["result"], "plain words\n", "stdout that is not JSON is kept as a JSON string");
    assert_eq!(by_id(2)["state"], "dead");
    assert_eq!(by_id(2)["attempts"], 2);
    assert_eq!(by_id(2)["error"], "exit status 3: disk on fire");
    assert_eq!(by_id(3)["state"], "dead");
    assert!(by_id(3)["error"].as_str().unwrap().contains("no \"cmd\""));
    assert!(log.contains("attempt 1/2 failed in") && log.contains("attempt 2/2 failed in"), "{log}");
}

#[test]
fn json_logs_have_one_object_per_job_event() {
    let db = Db::new("jsonlog");
    db.ok(&["enqueue", "q", "--cmd", "true"], 0);
    let log = work(&db, &["--log-format", "json"], "SELECT done = 1 FROM queue_stats");
    let events: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let done = events.iter().find(|e| e["event"] == "job.done").expect("a job.done line");
    assert_eq!(done["job"], 1);
    assert_eq!(done["queue"], "q");
    assert_eq!(done["attempt"], 1);
    assert!(done["duration"].as_f64().unwrap() >= 0.0);
    assert!(events.iter().any(|e| e["event"] == "worker.started"));
}

#[test]
fn orq_log_format_in_the_environment_chooses_the_log_as_in_python_and_node() {
    let db = Db::new("logenv");
    for (format, first) in [("json", "{"), ("quiet", ""), ("human", "20")] {
        db.ok(&["enqueue", "q", "--cmd", "true"], 0);
        let out = db.cmd(&["worker", "--until-empty"]).env("ORQ_LOG_FORMAT", format).output().unwrap();
        assert!(out.status.success(), "{format}");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(log.starts_with(first) && (format == "quiet") == log.is_empty(), "{format}: {log}");
    }
}

#[test]
fn sigterm_lets_running_jobs_finish_within_the_grace_period() {
    let db = Db::new("graceful");
    db.ok(&["enqueue", "q", "--cmd", "sleep 1; echo finished"], 0);
    db.ok(&["enqueue", "q", "--cmd", "true", "--delay", "30"], 0);
    let child = db.spawn(&["worker", "--grace", "10", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 1 FROM queue_stats");
    signal(&child, libc::SIGTERM);
    let (code, log) = finish(child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(log.contains("worker stopping"), "{log}");
    assert_eq!(
        db.one::<String>("SELECT state || ' ' || result FROM queue_jobs WHERE id = 1"),
        "done \"finished\\n\""
    );
    assert_eq!(db.one::<String>("SELECT state FROM queue_workers"), "stopped");
}

#[test]
fn past_the_grace_period_jobs_are_killed_and_released_at_once() {
    let db = Db::new("release");
    let marker = format!("orq-release-marker-{}", std::process::id());
    db.ok(&["enqueue", "q", "--cmd", &format!("sleep 300 # {marker}"), "--lease", "1h"], 0);
    let child = db.spawn(&["worker", "--grace", "0.3", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 1 FROM queue_stats");
    signal(&child, libc::SIGTERM);
    let (code, log) = finish(child, Duration::from_secs(10));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("released"), "{log}");
    // Ready now, not in an hour; the attempt does not count; nothing left running.
    assert_eq!(
        db.one::<String>("SELECT state || ' ' || attempts || ' ' || (lease_until IS NULL) FROM queue_jobs"),
        "ready 0 1"
    );
    assert_eq!(db.one::<i64>("SELECT count(*) FROM orq_events WHERE type = 'released'"), 1);
    assert_eq!(processes_with(&marker), 0, "the job's process was killed");
}

#[test]
fn jobs_that_end_together_complete_in_one_statement() {
    let db = Db::new("together");
    let go = db.dir().join("go");
    for _ in 0..4 {
        db.ok(
            &["enqueue", "q", "--cmd", &format!("while [ ! -e {} ]; do sleep 0.01; done", go.display())],
            0,
        );
    }
    // Which statement completed each job: inside a trigger, total_changes()
    // counts the rows the worker's connection changed in earlier statements
    // and the rows triggers inserted so far (events, and this log). Less
    // those, it is the same for every row of one statement, and grows with
    // each statement.
    db.conn()
        .execute_batch(
            "CREATE TABLE completed_by (job INTEGER, statement INTEGER);
             CREATE TRIGGER completed_by AFTER UPDATE OF state ON orq_jobs WHEN NEW.state = 'done'
             BEGIN
               INSERT INTO completed_by VALUES (NEW.id, total_changes()
                 - (SELECT count(*) FROM orq_events) - (SELECT count(*) FROM completed_by));
             END;",
        )
        .unwrap();
    let child = db.spawn(&["worker", "-c", "4", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 4 FROM queue_stats");
    // Every job ends while this connection holds the write lock: the
    // worker's next write waits for it, then finishes what ended meanwhile.
    let conn = db.conn();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::fs::write(&go, "").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    conn.execute_batch("COMMIT").unwrap();
    db.wait_for("SELECT done = 4 FROM queue_stats");
    signal(&child, libc::SIGTERM);
    finish(child, Duration::from_secs(10));
    let together: i64 =
        db.one("SELECT max(n) FROM (SELECT count(*) AS n FROM completed_by GROUP BY statement)");
    assert!(together >= 2, "each job completed by a statement of its own");
}

#[test]
fn a_second_signal_stops_at_once() {
    let db = Db::new("twice");
    db.ok(&["enqueue", "q", "--cmd", "sleep 60"], 0);
    let child = db.spawn(&["worker", "--grace", "60", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 1 FROM queue_stats");
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGINT);
    let started = Instant::now();
    let (code, _) = finish(child, Duration::from_secs(5));
    assert_eq!(code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(db.one::<String>("SELECT state FROM queue_jobs"), "ready");
}

#[test]
fn a_job_of_a_killed_worker_is_retried_after_its_lease() {
    let db = Db::new("sigkill");
    let marker = format!("orq-sigkill-marker-{}", std::process::id());
    db.ok(&["enqueue", "q", "--cmd", &format!("sleep 2 # {marker}; echo second"), "--lease", "1"], 0);
    let mut victim = db.spawn(&["worker", "--name", "victim", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 1 FROM queue_stats");
    victim.kill().unwrap(); // SIGKILL: no chance to clean up
    victim.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(processes_with(&marker), 0, "the job died with its worker");
    // Another host's worker (no local pid check) waits for the lease to run out.
    let conn = db.conn();
    conn.execute("UPDATE orq_workers SET host = 'elsewhere' WHERE name = 'victim'", []).unwrap();
    let started = Instant::now();
    work(&db, &["--name", "rescuer"], "SELECT done = 1 FROM queue_stats");
    assert!(started.elapsed() >= Duration::from_millis(500), "not before the lease ran out");
    assert_eq!(db.one::<String>("SELECT attempts || ' ' || worker FROM queue_jobs"), "2 rescuer");
    assert_eq!(db.one::<i64>("SELECT count(*) FROM orq_events WHERE type = 'expired'"), 1);
}

/// How many `sleep SECONDS` processes run (unique durations find a test's own).
fn sleepers(seconds: &str) -> usize {
    let wanted = format!("sleep\0{seconds}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| cmd == wanted.as_bytes())
        .count()
}

/// Waits up to `limit` for `done`.
fn eventually(limit: Duration, done: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn a_sigkilled_worker_takes_every_process_of_its_jobs_with_it() {
    let db = Db::new("sigkill-tree");
    let u = std::process::id();
    let [bg, fg, session, orphan] = [37, 38, 39, 40].map(|s| format!("{s}.{u}"));
    // Background children in the job's process group; a grandchild in a
    // session of its own; an orphan (double fork) re-parented at once.
    db.ok(&["enqueue", "q", "--cmd", &format!("sleep {bg} & sleep {fg}; wait")], 0);
    db.ok(&["enqueue", "q", "--cmd", &format!("setsid sleep {session} & (sleep {orphan} &); wait")], 0);
    let mut victim = db.spawn(&["worker", "-c", "2", "--poll-max", "0.05"]);
    let all = [&bg, &fg, &session, &orphan];
    assert!(
        eventually(Duration::from_secs(10), || all.iter().all(|s| sleepers(s) == 1)),
        "the jobs' processes started"
    );
    victim.kill().unwrap(); // SIGKILL: the worker cannot clean up
    victim.wait().unwrap();
    let gone = eventually(Duration::from_secs(3), || all.iter().all(|s| sleepers(s) == 0));
    let left: Vec<_> = all.iter().filter(|s| sleepers(s) > 0).collect();
    assert!(gone, "still running 3 s after the worker's SIGKILL: sleep {left:?}");
}

#[test]
fn the_next_attempt_never_runs_beside_processes_of_a_killed_workers_attempt() {
    let db = Db::new("sigkill-overlap");
    let u = std::process::id();
    // Attempt 1 leaves two sleeps behind its shell; every attempt then counts
    // the processes of attempt 1 still running (the pattern and the shell's
    // own command line do not match themselves).
    let cmd = format!(
        "if [ \"$ORQ_ATTEMPT\" = 1 ]; then sleep $((40+1)).{u} & sleep $((40+2)).{u}; wait; fi; \
         grep -l '4[12][.]{u}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l"
    );
    db.ok(&["enqueue", "q", "--cmd", &cmd, "--lease", "2"], 0);
    let mut victim = db.spawn(&["worker", "--name", "victim", "--poll-max", "0.05"]);
    let first = [format!("41.{u}"), format!("42.{u}")];
    assert!(eventually(Duration::from_secs(10), || first.iter().all(|s| sleepers(s) == 1)));
    victim.kill().unwrap();
    victim.wait().unwrap();
    // Another host's worker (no local pid check) claims the job once its lease ran out.
    db.conn().execute("UPDATE orq_workers SET host = 'elsewhere' WHERE name = 'victim'", []).unwrap();
    work(&db, &["--name", "rescuer"], "SELECT done = 1 FROM queue_stats");
    assert_eq!(
        db.one::<String>("SELECT attempts || ' ' || worker || ' ' || result FROM queue_jobs"),
        "2 rescuer 0",
        "no process of attempt 1 ran when attempt 2 started"
    );
}

#[test]
fn what_a_job_leaves_running_ends_with_it() {
    let db = Db::new("leftover");
    let left = format!("43.{}", std::process::id());
    // A grandchild in a session of its own, holding the job's stdout open.
    db.ok(&["enqueue", "q", "--cmd", &format!("setsid sleep {left} & echo started")], 0);
    let started = Instant::now();
    work(&db, &[], "SELECT done = 1 FROM queue_stats");
    assert!(started.elapsed() < Duration::from_secs(10), "the job ended with its shell");
    assert_eq!(sleepers(&left), 0, "its grandchild was killed");
    assert_eq!(db.one::<String>("SELECT result FROM queue_jobs"), r#""started\n""#);
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let db = Db::new("timeout");
    let marker = format!("orq-grandchild-marker-{}", std::process::id());
    // The job starts a grandchild in the background and waits on it.
    db.ok(
        &["enqueue", "q", "--cmd", &format!("sh -c 'sleep 300 # {marker}' & wait"), "--max-attempts", "1"],
        0,
    );
    db.ok(
        &["enqueue", "q", "--cmd", "sleep 300", "--max-attempts", "1", "--options", r#"{"timeout":0.3}"#],
        0,
    );
    work(&db, &["-c", "2", "--timeout", "0.5"], "SELECT dead = 2 FROM queue_stats");
    assert_eq!(processes_with(&marker), 0, "the grandchild was killed too");
    let errors: Vec<String> = db
        .json(&["jobs"])
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["error"].as_str().unwrap().to_string())
        .collect();
    assert!(errors.iter().all(|e| e.starts_with("timeout after")), "{errors:?}");
    let walls = db
        .one::<String>("SELECT group_concat(wall_ms, ' ') FROM (SELECT wall_ms FROM orq_runs ORDER BY job)");
    let walls: Vec<i64> = walls.split(' ').map(|w| w.parse().unwrap()).collect();
    assert!(
        walls[0] >= 450 && walls[0] < 2000 && walls[1] >= 250 && walls[1] < 450,
        "{walls:?}: the shorter limit wins"
    );
}

#[test]
fn with_orq_portable_jobs_run_without_a_keeper_and_a_timeout_kills_their_process_group() {
    let db = Db::new("portable");
    let marker = format!("orq-portable-grandchild-{}", std::process::id());
    // The job's parent: the keeper on Linux, the worker itself the portable way.
    db.ok(&["enqueue", "q", "--cmd", "tr '\\0' ' ' < /proc/$PPID/cmdline"], 0);
    db.ok(
        &["enqueue", "q", "--cmd", &format!("sh -c 'sleep 300 # {marker}' & wait"), "--max-attempts", "1"],
        0,
    );
    let mut worker = db.cmd(&["worker", "--poll-max", "0.05", "--timeout", "0.5"]);
    let child =
        worker.env("ORQ_PORTABLE", "1").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    db.wait_for("SELECT done = 1 AND dead = 1 FROM queue_stats");
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    let parent = db.one::<String>("SELECT result ->> '$' FROM queue_jobs WHERE id = 1");
    assert!(parent.contains(" worker ") && !parent.contains("__job-keeper"), "the job's parent: {parent}");
    assert_eq!(processes_with(&marker), 0, "the grandchild was killed with the job's process group");
}

#[test]
fn heartbeats_keep_a_job_three_leases_long_alive() {
    let db = Db::new("heartbeat");
    db.ok(&["enqueue", "q", "--cmd", "sleep 3", "--lease", "1"], 0);
    let holder = db.spawn(&["worker", "--name", "holder", "--poll-max", "0.05"]);
    db.wait_for("SELECT running = 1 FROM queue_stats");
    // A second worker keeps claiming: it must never get the job.
    work(&db, &["--name", "other"], "SELECT done = 1 FROM queue_stats");
    signal(&holder, libc::SIGTERM);
    finish(holder, Duration::from_secs(10));
    assert_eq!(db.one::<String>("SELECT attempts || ' ' || worker FROM queue_jobs"), "1 holder");
    assert!(db.one::<i64>("SELECT count(*) FROM orq_events WHERE type = 'extended'") >= 4);
    assert_eq!(db.one::<i64>("SELECT count(*) FROM orq_events WHERE type = 'expired'"), 0);
}

#[test]
fn each_run_records_its_resource_use() {
    let db = Db::new("usage");
    db.ok(&["enqueue", "cpu", "--cmd", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"], 0);
    work(&db, &[], "SELECT done = 1 FROM queue_stats");
    let (wall, user, rss): (i64, i64, i64) = db
        .conn()
        .query_row("SELECT wall_ms, user_ms + sys_ms, max_rss_kb FROM orq_runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert!(user > 50 && wall >= user / 2 && rss > 500, "wall {wall} ms, cpu {user} ms, rss {rss} KiB");
    assert_eq!(
        db.one::<String>("SELECT queue || ' ' || runs || ' ' || done FROM queue_resources"),
        "cpu 1 1"
    );
}

#[test]
fn routing_keeps_jobs_away_from_workers_that_do_not_fit() {
    let db = Db::new("routing");
    for _ in 0..4 {
        db.ok(&["enqueue", "r", "--cmd", "sleep 0.05", "--options", r#"{"requires":["gpu"]}"#], 0);
        db.ok(&["enqueue", "r", "--cmd", "sleep 0.05", "--options", r#"{"worker":"plain"}"#], 0);
        db.ok(&["enqueue", "r", "--cmd", "sleep 0.05", "--options", r#"{"not_workers":["gpu-box"]}"#], 0);
    }
    let plain = db.spawn(&["worker", "--name", "plain", "-c", "2", "--poll-max", "0.05"]);
    work(&db, &["--name", "gpu-box", "--cap", "gpu", "-c", "2"], "SELECT done = 12 FROM queue_stats");
    signal(&plain, libc::SIGTERM);
    finish(plain, Duration::from_secs(10));
    let by_worker = db.one::<String>(
        "SELECT group_concat(x, ' ') FROM (
           SELECT route || '=' || group_concat(DISTINCT worker) AS x
           FROM (SELECT coalesce(requires, only_worker, not_workers) AS route, worker FROM queue_jobs)
           GROUP BY route ORDER BY route)",
    );
    assert_eq!(by_worker, r#"["gpu"]=gpu-box ["gpu-box"]=plain plain=plain"#);
}

#[test]
fn the_registry_shows_the_worker_while_it_runs() {
    let db = Db::new("registry");
    db.ok(&["enqueue", "q", "--cmd", "sleep 0.5"], 0);
    let child = db.spawn(&[
        "worker",
        "--name",
        "w-reg",
        "--cap",
        "gpu",
        "-q",
        "q",
        "-q",
        "other",
        "-c",
        "3",
        "--poll-max",
        "0.05",
    ]);
    db.wait_for("SELECT running = 1 FROM queue_workers WHERE name = 'w-reg'");
    assert_eq!(
        db.one::<String>(
            "SELECT state || ' ' || queues || ' ' || capabilities || ' ' || concurrency FROM queue_workers"
        ),
        r#"alive ["q","other"] ["gpu"] 3"#
    );
    db.wait_for("SELECT done = 1 FROM queue_stats");
    signal(&child, libc::SIGTERM);
    finish(child, Duration::from_secs(10));
    assert_eq!(db.one::<String>("SELECT state || ' ' || jobs_done FROM queue_workers"), "stopped 1");
}

#[test]
fn sd_notify_reports_ready_status_and_watchdog() {
    use std::os::unix::net::UnixDatagram;
    let db = Db::new("notify");
    let socket_path = db.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let child = db
        .cmd(&["worker", "--poll-max", "0.05"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !(seen.contains("READY=1") && seen.matches("WATCHDOG=1").count() >= 2) {
        let n = socket.recv(&mut buf).expect("a notification within 10 s");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        seen.push('\n');
    }
    signal(&child, libc::SIGTERM);
    let _ = finish(child, Duration::from_secs(10));
    while let Ok(n) = socket.recv(&mut buf) {
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.contains("STOPPING=1") {
            break;
        }
    }
    assert!(seen.contains("STATUS=waiting for jobs"), "{seen}");
    assert!(seen.contains("STOPPING=1"), "{seen}");
}

#[test]
fn systemd_unit_prints_a_service_for_the_worker() {
    let db = Db::new("unit");
    let unit = db.ok(
        &[
            "systemd-unit",
            "mail",
            "--",
            "--queue",
            "email",
            "-c",
            "4",
            "--grace",
            "45",
            "--",
            "send-mail",
            "--fast",
        ],
        0,
    );
    for needle in [
        "Type=notify",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "KillMode=mixed",
        "TimeoutStopSec=55",
        "worker --name mail --queue email -c 4 --grace 45 -- send-mail --fast",
    ] {
        assert!(unit.contains(needle), "{needle} missing:\n{unit}");
    }
    let bad = db.orq(&["systemd-unit", "mail", "--", "--concurency", "4"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn orq_run_processes_items_and_reports() {
    let db = Db::new("run");
    let items = db.dir().join("items.jsonl");
    let lines: Vec<String> = (1..=12)
        .map(|i| format!(r#"{{"id":"item-{i}","cmd":"sleep 0.0{}; [ {i} -ne 5 ] || {{ echo 'bad item' >&2; exit 2; }}"}}"#, i % 4))
        .collect();
    std::fs::write(&items, lines.join("\n") + "\n\n").unwrap();
    let out = db.orq(&["run", "--items", items.to_str().unwrap(), "--workers", "3", "--max-attempts", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "an item ended dead: {stdout}{stderr}");
    assert!(stdout.starts_with("12 jobs on queue run.items finished in"), "{stdout}");
    assert!(stdout.contains("dead 1, done 11"), "{stdout}");
    assert!(
        stdout.contains("slowest:")
            && stdout.contains("failed:")
            && stdout.contains("exit status 2: bad item"),
        "{stdout}"
    );
    assert!(stderr.contains("progress: 12/12  done 11  running 0  failed 1  left 0"), "{stderr}");
    // Again: nothing is redone.
    let again = db.orq(&["run", "--items", items.to_str().unwrap(), "--workers", "3"]);
    assert!(String::from_utf8_lossy(&again.stderr)
        .contains("resuming: 12 of 12 items were enqueued by an earlier run"));
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 12);
}

#[test]
fn orq_run_resumes_after_being_killed_halfway() {
    let db = Db::new("resume");
    let items = db.dir().join("items.jsonl");
    let lines: Vec<String> = (1..=30).map(|i| format!(r#"{{"n":{i},"cmd":"sleep 0.1"}}"#)).collect();
    std::fs::write(&items, lines.join("\n")).unwrap();
    let mut first = db.spawn(&["run", "--items", items.to_str().unwrap(), "--workers", "3"]);
    db.wait_for("SELECT done >= 8 FROM queue_stats");
    first.kill().unwrap();
    first.wait().unwrap();
    let done_before = db.one::<i64>("SELECT done FROM queue_stats");
    assert!(done_before < 30, "killed before the end");
    let second = db.orq(&["run", "--items", items.to_str().unwrap(), "--workers", "3"]);
    assert_eq!(second.status.code(), Some(0), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(db.one::<String>("SELECT done || ' ' || dead FROM queue_stats"), "30 0");
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 30, "no item enqueued twice");
    assert_eq!(
        db.one::<i64>("SELECT count(*) FROM (SELECT job FROM orq_events WHERE type = 'completed' GROUP BY job HAVING count(*) > 1)"),
        0,
        "no item completed twice"
    );
}

#[test]
fn watch_once_prints_queues_and_workers() {
    let db = Db::new("watch");
    db.ok(&["enqueue", "email", "{}"], 0);
    db.ok(&["enqueue", "email", "{}", "--delay", "60"], 0);
    db.ok(&["enqueue", "thumbs", "--cmd", "true"], 0);
    work(
        &db,
        &["-q", "thumbs", "--name", "thumbnailer"],
        "SELECT done = 1 FROM queue_stats WHERE queue = 'thumbs'",
    );
    let frame = db.ok(&["watch", "--once"], 0);
    let lines: Vec<&str> = frame.lines().collect();
    assert!(lines[0].starts_with("orq watch  "), "{frame}");
    let header = lines.iter().position(|l| l.starts_with("QUEUE")).expect("a queue table");
    assert!(lines[header].contains(
        "READY  SCHEDULED  RUNNING  DONE  DEAD  CANCELLED  DONE_LAST_MIN  OLDEST_READY_AGE  PAUSED"
    ));
    assert!(lines[header + 1].starts_with("email") && lines[header + 1].contains("1          1"), "{frame}");
    assert!(lines[header + 2].starts_with("thumbs"), "{frame}");
    assert!(frame.contains("workers: 0 alive") && frame.contains("thumbnailer  stopped"), "{frame}");
}

#[test]
fn watch_once_shows_the_progress_running_jobs_reported() {
    let db = Db::new("watch-progress");
    for _ in 0..4 {
        db.ok(&["enqueue", "render", "{}"], 0);
    }
    assert!(!db.ok(&["watch", "--once"], 0).contains("PROGRESS"), "no report, no table");
    let reported: i64 = db.one(
        r#"SELECT sum(queue_progress(id, token, CASE id
             WHEN 1 THEN '0.25'
             WHEN 2 THEN '{"done": 3, "total": 10, "message": "frames"}'
             ELSE '{"value": 0.5, "message": "half"}' END))
           FROM queue_claim('w1', 3)"#,
    );
    assert_eq!(reported, 3);
    let frame = db.ok(&["watch", "--once"], 0);
    let lines: Vec<&str> = frame.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("JOB")).expect("a progress table");
    assert_eq!(
        lines[header..header + 4],
        [
            "JOB  QUEUE   WORKER  PROGRESS",
            "  1  render  w1      25%",
            "  2  render  w1      3/10 frames",
            "  3  render  w1      50% half"
        ],
        "{frame}"
    );
}

/// `orq worker --until-empty ARGS`, which must exit 0 within `limit`; its log.
fn until_empty(db: &Db, args: &[&str], limit: Duration) -> String {
    let mut all = vec!["worker", "--until-empty"];
    all.extend_from_slice(args);
    let (code, log) = finish(db.spawn(&all), limit);
    assert_eq!(code, Some(0), "{log}");
    log
}

#[test]
fn until_empty_exits_after_draining_the_queue() {
    let db = Db::new("until-drain");
    for _ in 0..5 {
        db.ok(&["enqueue", "q", "--cmd", "sleep 0.1"], 0);
    }
    let log = until_empty(&db, &["-c", "2"], Duration::from_secs(20));
    assert_eq!(db.one::<i64>("SELECT done FROM queue_stats WHERE queue = 'q'"), 5, "{log}");
    assert!(log.contains("worker stopped: 5 done, 0 failed"), "{log}");
    assert_eq!(db.one::<String>("SELECT state FROM queue_workers"), "stopped");
}

#[test]
fn until_empty_exits_at_once_on_an_empty_queue() {
    let db = Db::new("until-none");
    db.ok(&["enqueue", "q", "--cmd", "true", "--delay", "1h"], 0);
    let started = Instant::now();
    until_empty(&db, &[], Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(
        db.one::<String>("SELECT state FROM queue_jobs WHERE id = 1"),
        "ready",
        "a job due later is left for a later worker"
    );
}

#[test]
fn until_empty_waits_for_a_job_running_elsewhere_and_takes_it_when_it_comes_back() {
    let db = Db::new("until-running");
    db.ok(&["enqueue", "q", "--cmd", "true", "--lease", "1.5"], 0);
    // Another worker claims the job and dies: it stays running until its lease runs out.
    db.one::<i64>("SELECT id FROM queue_claim('ghost', 1)");
    let started = Instant::now();
    let log = until_empty(&db, &["--name", "heir"], Duration::from_secs(20));
    assert!(started.elapsed() >= Duration::from_millis(1200), "exited after {:?}: {log}", started.elapsed());
    let (state, worker, attempts): (String, String, i64) = db
        .conn()
        .query_row("SELECT state, worker, attempts FROM queue_jobs WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((state.as_str(), worker.as_str(), attempts), ("done", "heir", 2), "{log}");
}

#[test]
fn until_empty_does_not_exit_while_its_own_job_runs_and_leaves_a_retry_for_later() {
    let db = Db::new("until-retry");
    db.ok(&["enqueue", "q", "--cmd", "sleep 0.5; exit 1", "--options", r#"{"backoff":{"base":60}}"#], 0);
    let started = Instant::now();
    let log = until_empty(&db, &[], Duration::from_secs(20));
    assert!(started.elapsed() >= Duration::from_millis(500), "{log}");
    assert!(log.contains("job 1 [q] attempt 1/5 failed in"), "{log}");
    assert_eq!(
        db.one::<i64>("SELECT scheduled FROM queue_stats WHERE queue = 'q'"),
        1,
        "the failed job waits out its backoff for a later worker"
    );
}

#[test]
fn until_empty_looks_only_at_the_workers_queues() {
    let db = Db::new("until-queues");
    db.ok(&["enqueue", "mine", "--cmd", "true"], 0);
    db.ok(&["enqueue", "theirs", "--cmd", "true"], 0);
    db.one::<i64>("SELECT id FROM queue_claim('ghost', 1, '[\"theirs\"]')");
    let started = Instant::now();
    until_empty(&db, &["-q", "mine"], Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(2), "a running job of another queue is not waited for");
    assert_eq!(
        db.one::<String>("SELECT group_concat(state, ' ') FROM (SELECT state FROM queue_jobs ORDER BY id)"),
        "done running"
    );
}

#[test]
fn a_deeply_nested_payload_is_read_for_its_cmd() {
    let db = Db::new("deep");
    db.ok(&["enqueue", "q", "--cmd", "echo ran"], 0);
    // 200 levels: refused at enqueue now, but a row written before that (or
    // by hand) is still read for its "cmd", not reported as having none.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    db.conn()
        .execute(
            "UPDATE orq_jobs SET payload = json_object('cmd', 'echo ran', 'deep', json(?1)) WHERE id = 1",
            [&deep],
        )
        .unwrap();
    work(&db, &[], "SELECT done + dead = 1 FROM queue_stats");
    assert_eq!(db.one::<String>("SELECT state FROM queue_jobs WHERE id = 1"), "done");
}
