//! `orq workflow`, `orq events` and `orq schedule`.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::{finish, signal, Db};
use serde_json::json;

const SPEC: &str = r#"{"name": "etl", "fail_fast": true, "jobs": [
  {"key": "extract", "queue": "etl", "payload": {"cmd": "echo '{\"rows\": 3}'"}},
  {"key": "clean", "queue": "etl", "payload": {"cmd": "true"}, "depends_on": ["extract"]},
  {"key": "enrich", "queue": "etl", "payload": {"cmd": "true"}, "depends_on": ["extract"]},
  {"key": "load", "queue": "etl", "payload": {"cmd": "true"}, "depends_on": ["clean", "enrich"]}
]}"#;

#[test]
fn a_workflow_is_submitted_shown_as_a_tree_and_drained_by_a_worker() {
    let db = Db::new("wf");
    let file = db.dir().join("etl.json");
    std::fs::write(&file, SPEC).unwrap();
    assert_eq!(db.ok(&["workflow", "submit", file.to_str().unwrap()], 0), "1\n");
    let tree = db.ok(&["workflow", "show", "1"], 0);
    assert_eq!(
        tree,
        "workflow 1 etl: running (4 jobs: 0 done, 0 running, 1 ready, 3 waiting, 0 dead, 0 cancelled)\n\
         extract [ready] #1\n\
         ├── clean [waiting] #2\n\
         │   └── load [waiting] #4\n\
         └── enrich [waiting] #3\n    \
             └── load (above)\n"
    );
    let worker = db.spawn(&["worker", "-c", "2", "--poll-max", "0.05"]);
    db.wait_for("SELECT state = 'done' FROM queue_workflows");
    signal(&worker, libc::SIGTERM);
    finish(worker, Duration::from_secs(10));
    assert!(db.ok(&["workflow", "show", "1"], 0).starts_with("workflow 1 etl: done (4 jobs: 4 done"));
    let list = db.json(&["workflow", "list"]);
    assert_eq!(list[0]["state"], "done");
    assert_eq!(db.one::<String>("SELECT queue_parent_results(2)"), r#"{"extract":{"rows":3}}"#);
}

#[test]
fn cancelling_a_workflow_and_bad_specs() {
    let db = Db::new("wfcancel");
    let file = db.dir().join("etl.json");
    std::fs::write(&file, SPEC).unwrap();
    db.ok(&["workflow", "submit", file.to_str().unwrap()], 0);
    assert_eq!(db.ok(&["workflow", "cancel", "1"], 0), "workflow 1: cancelled 4 jobs\n");
    assert_eq!(db.ok(&["workflow", "cancel", "1"], 1), "workflow 1: cancelled 0 jobs\n");
    std::fs::write(&file, r#"{"name": "x", "jobs": [{"key": "a", "queue": "q", "depends_on": ["a"]}]}"#)
        .unwrap();
    let out = db.orq(&["workflow", "submit", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("queue_workflow: the dependencies form a cycle among: a"));
    assert_eq!(db.orq(&["workflow", "show", "9"]).status.code(), Some(2));
}

#[test]
fn events_follow_prints_new_events_as_they_happen() {
    let db = Db::new("follow");
    db.ok(&["enqueue", "q", "{}"], 0);
    let mut follower =
        db.cmd(&["events", "--follow", "--queue", "q"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("job 1      q          enqueued   - -> ready"));
    db.ok(&["enqueue", "q", "{}"], 0);
    db.ok(&["cancel", "2"], 0);
    db.ok(&["enqueue", "other", "{}"], 0);
    assert!(lines.next().unwrap().unwrap().contains("job 2      q          enqueued"));
    let cancelled = lines.next().unwrap().unwrap();
    assert!(cancelled.contains("job 2      q          cancelled  ready -> cancelled"), "{cancelled}");
    follower.kill().unwrap();
    follower.wait().unwrap();
    let json = db.ok(&["--json", "events", "--job", "2"], 0);
    let types: Vec<String> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, vec!["enqueued", "cancelled"]);
}

#[test]
fn show_includes_the_jobs_history() {
    let db = Db::new("history");
    db.ok(&["enqueue", "q", "{}"], 0);
    db.ok(&["cancel", "1"], 0);
    let shown = db.json(&["show", "1"]);
    assert_eq!(shown["job"]["state"], "cancelled");
    let types: Vec<&str> =
        shown["history"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["enqueued", "cancelled"]);
    assert!(db.ok(&["show", "1"], 0).contains("TYPE"));
}

#[test]
fn show_lists_the_jobs_steps_and_progress() {
    let db = Db::new("steps");
    db.ok(&["enqueue", "reports", "{}"], 0);
    let token: i64 = db.one("SELECT token FROM queue_claim('w1', 1)");
    db.one::<i64>(&format!(
        r#"SELECT queue_step_done(1, {token}, 'fetch', '{{"rows": 3}}')
             + (queue_step_fail(1, {token}, 'render', 'timeout') = 'exhausted')
             + queue_progress(1, {token}, '{{"done": 3, "total": 10, "message": "rendering"}}')"#
    ));
    let shown = db.json(&["show", "1"]);
    assert_eq!(shown["job"]["progress"], json!({"done": 3, "total": 10, "message": "rendering"}));
    let mut steps = shown["steps"].clone();
    assert!(steps[0]["recorded_at"].is_f64(), "{steps}");
    steps[0]["recorded_at"] = json!("a time");
    assert_eq!(
        steps,
        json!([
            {"name": "fetch", "result": {"rows": 3}, "recorded_at": "a time", "failures": 0, "error": null},
            {"name": "render", "result": null, "recorded_at": null, "failures": 1, "error": "timeout"}
        ])
    );

    let text = db.ok(&["show", "1"], 0);
    assert!(text.contains(r#"progress  {"done": 3, "total": 10, "message": "rendering"}"#), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("NAME")).expect("a table of steps");
    assert_eq!(lines[header], "NAME    RESULT      RECORDED_AT  FAILURES  ERROR");
    assert!(lines[header + 1].starts_with(r#"fetch   {"rows":3}  "#), "{text}");
    assert_eq!(lines[header + 2], "render  null        -                   1  timeout");
    assert!(lines[header + 4].starts_with("SEQ"), "the history follows: {text}");

    db.ok(&["enqueue", "reports", "{}"], 0);
    assert_eq!(db.json(&["show", "2"])["steps"], json!([]));
    assert!(!db.ok(&["show", "2"], 0).contains("NAME"), "no steps, no table");
}

#[test]
fn schedules_are_added_listed_and_removed() {
    let db = Db::new("sched");
    let added = db.ok(
        &["schedule", "add", "nightly", "0 3 * * *", "etl", "--cmd", "make report", "--tz", "Europe/Berlin"],
        0,
    );
    assert!(added.starts_with("schedule nightly: next run ") && added.contains("T02:00:00.000Z"), "{added}");
    let list = db.json(&["schedule", "list"]);
    assert_eq!(list[0]["name"], "nightly");
    assert_eq!(list[0]["tz"], "Europe/Berlin");
    assert_eq!(db.one::<String>("SELECT payload FROM queue_schedules"), r#"{"cmd":"make report"}"#);
    let bad = db.orq(&["schedule", "add", "x", "99 * * * *", "q"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad minute field '99'"));
    assert_eq!(db.ok(&["schedule", "rm", "nightly"], 0), "schedule nightly removed\n");
    assert_eq!(db.ok(&["schedule", "rm", "nightly"], 1), "no schedule nightly\n");
}

#[test]
fn a_schedule_set_aside_shows_why_in_the_list() {
    let db = Db::new("aside");
    db.ok(&["enqueue", "q", "{}"], 0);
    // Written by an older orq, which took an @every beyond ten years.
    let conn = db.conn();
    conn.execute_batch(
        "INSERT INTO orq_schedules (name, cron, queue, payload, next_run_at, created_at)
         VALUES ('wrapped', '@every 106751991167d', 'q', '{}', 0, 0)",
    )
    .unwrap();
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_claim('w', 1)"), 1, "the claim goes on");
    let list = db.json(&["schedule", "list"]);
    assert_eq!(list[0]["next_run_at"], serde_json::Value::Null);
    assert!(
        list[0]["error"].as_str().unwrap().contains("@every needs a duration from 1s to 10 years"),
        "{list}"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let db = Db::new("pipe");
    for _ in 0..200 {
        db.ok(&["enqueue", "q", "{}"], 0);
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{} --db {} jobs -n 200 | head -1", env!("CARGO_BIN_EXE_orq"), db.path().display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim_start().starts_with("ID"), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn show_with_a_token_says_whether_it_holds_the_lease_and_why_not() {
    let db = Db::new("lease");
    db.ok(&["enqueue", "q", "{}"], 0);
    let token: i64 = db.one("SELECT token FROM queue_claim('w1', 1, 'q')");
    let t = token.to_string();
    let held = db.json(&["show", "1", "--token", &t]);
    assert_eq!(
        (held["lease"]["reason"].as_str(), held["lease"]["held"].as_bool()),
        (Some("held"), Some(true))
    );
    assert_eq!(held["job"]["state"], "running");
    assert_eq!(db.one::<i64>(&format!("SELECT queue_complete(1, {token})")), 1);
    let text = db.ok(&["show", "1", "--token", &t], 0);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("token {token}: finished: job 1 was already completed at "))
            && last.ends_with(" under this lease (worker w1)"),
        "{text}"
    );
    assert_eq!(db.json(&["show", "1", "--token", &(token + 1).to_string()])["lease"]["reason"], "future");
    assert!(db.json(&["show", "1"]).get("lease").is_none(), "no token, no verdict");
    assert_eq!(db.orq(&["show", "1", "--token", "-1"]).status.code(), Some(2));
}
