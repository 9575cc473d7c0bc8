//! `orq step`, `orq sleep`, `orq await` and `orq progress` in a job's
//! command under `orq worker` (issue 19's shell protocol): what a step did
//! is not done again when the script runs again, a failed try parks the
//! job, and the worker logs each run that ended that way `suspended`.

mod common;

use std::time::Duration;

use common::{finish, signal, work, Db};

/// `orq worker` on `queues` running `body` under `sh -e` as each job's
/// command, with `orq` the binary under test: its arguments.
fn worker_args(queues: &[&str], body: &str) -> Vec<String> {
    let orq = env!("CARGO_BIN_EXE_orq");
    let script = format!("orq() {{ \"{orq}\" \"$@\"; }}\n{body}");
    let mut args: Vec<String> = queues.iter().flat_map(|q| ["-q".to_string(), q.to_string()]).collect();
    args.extend(["--", "sh", "-ec", &script].map(String::from));
    args
}

/// Runs such a worker until `until` holds; its log.
fn work_on(db: &Db, queues: &[&str], body: &str, until: &str) -> String {
    let args = worker_args(queues, body);
    work(db, &args.iter().map(String::as_str).collect::<Vec<_>>(), until)
}

#[test]
fn each_step_runs_once_a_failing_one_is_tried_again_and_a_sleep_holds_no_worker() {
    let db = Db::new("in-job-steps");
    let dir = db.dir().display().to_string();
    db.ok(&["enqueue", "q", "{}"], 0);
    let body = format!(
        r#"cd {dir}
orq progress 0.1 starting
rows=$(orq step fetch --attempts 3 --retry-in 0 -- sh -c 'echo try >> fetches; [ $(wc -l < fetches) -ge 2 ] || exit 7; echo 120')
orq sleep nap 0.2
orq step ship -- sh -c 'echo shipped >> ships; echo "{{\"label\": \"L-1\"}}"' > label
orq progress 1
echo "{{\"rows\": $rows, \"label\": $(cat label)}}""#
    );
    let log = work_on(&db, &["q"], &body, "SELECT state = 'done' FROM queue_jobs WHERE id = 1");
    let read = |name: &str| std::fs::read_to_string(db.dir().join(name)).unwrap();
    assert_eq!(read("fetches"), "try\ntry\n", "one failed try, one that worked");
    assert_eq!(read("ships"), "shipped\n", "once");
    assert_eq!(
        db.one::<String>("SELECT result FROM queue_jobs WHERE id = 1"),
        r#"{"rows":120,"label":{"label":"L-1"}}"#
    );
    assert_eq!(log.matches("suspended in").count(), 2, "the failed try and the sleep: {log}");
    assert_eq!(log.matches(" done in").count(), 1, "{log}");
    assert_eq!(db.one::<i64>("SELECT attempts FROM queue_jobs WHERE id = 1"), 1, "no attempt used up");
    assert_eq!(db.one::<String>("SELECT progress FROM queue_jobs WHERE id = 1"), "1");
    assert_eq!(
        db.one::<String>(
            "SELECT group_concat(type || coalesce(' ' || (detail ->> '$.name'), ''), ', ') FROM queue_history(1)
             WHERE type IN ('step', 'step_failed', 'slept')"
        ),
        "step_failed fetch, slept, step fetch, step sleep:nap, slept, step ship"
    );
}

#[test]
fn await_prints_the_signals_payload_once_it_came() {
    let db = Db::new("in-job-await");
    db.ok(&["enqueue", "q", "{}"], 0);
    let body = r#"approval=$(orq await approved-1 --timeout 1h); echo "{\"approval\": $approval}""#;
    let args = worker_args(&["q"], body);
    let worker = db.spawn(
        &[&["worker", "--poll-max", "0.05"][..], &args.iter().map(String::as_str).collect::<Vec<_>>()]
            .concat(),
    );
    db.wait_for("SELECT count(*) = 1 FROM queue_history(1) WHERE type = 'awaiting'");
    assert_eq!(db.ok(&["signal", "approved-1", r#"{"by": "ann"}"#], 0), "signal approved-1: woke 1 job\n");
    db.wait_for("SELECT state = 'done' FROM queue_jobs WHERE id = 1");
    signal(&worker, libc::SIGTERM);
    let (code, log) = finish(worker, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        db.one::<String>("SELECT result FROM queue_jobs WHERE id = 1"),
        r#"{"approval":{"by":"ann"}}"#
    );
    assert!(log.contains("suspended in"), "{log}");
}

#[test]
fn a_step_out_of_tries_fails_its_job_and_a_stale_token_ends_the_run() {
    let db = Db::new("in-job-fail");
    db.ok(&["enqueue", "q", "{}", "--max-attempts", "1"], 0);
    let body = "orq step flaky -- sh -c 'echo down >&2; exit 3'";
    let log = work_on(&db, &["q"], body, "SELECT state = 'dead' FROM queue_jobs WHERE id = 1");
    let error: String = db.one("SELECT error FROM queue_jobs WHERE id = 1");
    assert!(
        error.starts_with("exit status 1: down\norq: step flaky: exit status 3; no tries left"),
        "{error}"
    );
    assert!(log.contains("failed in"), "{log}");
    // Outside a job, and with a token that does not hold the job.
    let outside = db.orq(&["step", "x", "--", "true"]);
    assert_eq!(outside.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&outside.stderr).contains("orq step acts on a running job"));
    for args in [
        &["step", "x", "--job", "1", "--token", "7", "--", "true"][..],
        &["sleep", "nap", "5", "--job", "1", "--token", "7"],
        &["await", "s", "--job", "1", "--token", "7"],
        &["progress", "0.5", "--job", "1", "--token", "7"],
    ] {
        let out = db.orq(args);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("job 1: lease lost"), "{args:?}");
    }
    assert_eq!(
        db.one::<i64>("SELECT count(*) FROM queue_history(1) WHERE type IN ('step', 'slept', 'awaiting')"),
        0
    );
}

#[test]
fn spawn_starts_each_child_once_and_gather_prints_them_all_once_finished() {
    let db = Db::new("in-job-gather");
    db.ok(&["enqueue", "parent", "{}"], 0);
    let body = r#"if [ "$ORQ_QUEUE" = kids ]; then cat; exit 0; fi
orq spawn a kids '{"n": 2}' > /dev/null
orq spawn b kids '{"n": 3}' --options '{"priority": 5}' > /dev/null
orq gather"#;
    let log = work_on(&db, &["parent", "kids"], body, "SELECT state = 'done' FROM queue_jobs WHERE id = 1");
    let result: serde_json::Value =
        serde_json::from_str(&db.one::<String>("SELECT result FROM queue_jobs WHERE id = 1")).unwrap();
    assert_eq!(
        result,
        serde_json::json!([
            {"id": 2, "queue": "kids", "state": "done", "result": {"n": 2}, "error": null},
            {"id": 3, "queue": "kids", "state": "done", "result": {"n": 3}, "error": null}
        ])
    );
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 3, "each child started once");
    assert_eq!(db.one::<i64>("SELECT priority FROM queue_jobs WHERE id = 3"), 5);
    assert!(log.contains("job 1 [parent] attempt 1/5 suspended in"), "{log}");
}
