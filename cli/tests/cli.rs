//! The `orq` binary as a user runs it: output, JSON for scripts, exit codes.

mod common;

use std::process::Command;

use common::Db;

#[test]
fn enqueue_prints_the_id_and_jobs_lists_newest_first() {
    let db = Db::new("enqueue");
    assert_eq!(db.ok(&["enqueue", "email", r#"{"to":"a@b.c"}"#], 0), "1\n");
    assert_eq!(
        db.ok(
            &[
                "enqueue",
                "build",
                "--cmd",
                "make all",
                "--priority",
                "-2",
                "--delay",
                "1h",
                "--max-attempts",
                "2"
            ],
            0
        ),
        "2\n"
    );
    let jobs = db.json(&["jobs"]);
    assert_eq!(jobs[0]["id"], 2);
    assert_eq!(jobs[0]["payload"]["cmd"], "make all");
    assert_eq!(jobs[0]["priority"], -2);
    assert_eq!(jobs[0]["max_attempts"], 2);
    let due_in = jobs[0]["run_at"].as_f64().unwrap() - jobs[0]["created_at"].as_f64().unwrap();
    assert!((due_in - 3600.0).abs() < 0.01, "{due_in}");
    assert_eq!(jobs[1]["payload"]["to"], "a@b.c");
    let table = db.ok(&["jobs", "--queue", "build"], 0);
    assert!(table.starts_with("ID  QUEUE  STATE"), "{table}");
    assert!(table.contains("in 60m") && !table.contains("email"), "{table}");
    assert_eq!(db.json(&["jobs", "--state", "done"]), serde_json::json!([]));
}

#[test]
fn a_key_makes_enqueue_idempotent_and_options_merge() {
    let db = Db::new("key");
    let a = db.ok(&["enqueue", "q", "--key", "k1", "--options", r#"{"lease":5}"#], 0);
    assert_eq!(db.ok(&["enqueue", "q", "--key", "k1"], 0), a);
    assert_eq!(db.json(&["show", a.trim()])["job"]["lease"], 5.0);
}

#[test]
fn enqueue_lines_makes_a_job_of_each_line_in_one_statement() {
    use std::io::Write;
    let db = Db::new("lines");
    let mut child = db
        .cmd(&["--json", "enqueue", "bulk", "-", "--lines", "--priority", "4"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{\"n\": 1}\n\n\"two\"\n[3]\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, serde_json::json!({"ids": [1, 2, 3]}));
    assert_eq!(
        db.one::<String>("SELECT group_concat(payload || ':' || priority, ' ') FROM queue_jobs"),
        r#"{"n": 1}:4 "two":4 [3]:4"#
    );
    // A bad line is named, and nothing is enqueued.
    let bad = db.orq(&["enqueue", "bulk", "{}\n{oops", "--lines"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 2: not valid JSON"), "{bad:?}");
    assert_eq!(db.ok(&["enqueue", "bulk", "7\n8", "--lines"], 0), "4\n5\n");
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 5);
    assert_eq!(db.orq(&["enqueue", "bulk", "1", "--lines", "--key", "k"]).status.code(), Some(2));
}

#[test]
fn stats_and_show_describe_the_queue() {
    let db = Db::new("stats");
    db.ok(&["enqueue", "a", "{}"], 0);
    db.ok(&["enqueue", "a", "{}", "--delay", "60"], 0);
    let stats = db.json(&["stats"]);
    assert_eq!(stats[0]["queue"], "a");
    assert_eq!(stats[0]["ready"], 1);
    assert_eq!(stats[0]["scheduled"], 1);
    let text = db.ok(&["show", "1"], 0);
    assert!(text.contains("state  ready") && text.contains("payload  {}"), "{text}");
}

#[test]
fn stats_show_how_long_each_queue_keeps_finished_jobs() {
    let db = Db::new("retention");
    db.ok(&["enqueue", "a", "{}"], 0);
    db.ok(&["enqueue", "b", "{}"], 0);
    db.one::<i64>(r#"SELECT queue_configure('b', '{"retention": {"done": 3600, "dead": null}}')"#);
    let stats = db.json(&["stats"]);
    assert_eq!(
        stats[0]["retention"],
        serde_json::json!({"done": 604800.0, "dead": 2592000.0, "cancelled": 604800.0})
    );
    assert_eq!(
        stats[1]["retention"],
        serde_json::json!({"done": 3600.0, "dead": null, "cancelled": 604800.0})
    );
    let text = db.ok(&["stats"], 0);
    assert!(text.contains("done 7d, dead 30d, cancelled 7d"), "{text}");
    assert!(text.contains("done 60m, dead forever, cancelled 7d"), "{text}");
}

#[test]
fn exit_status_tells_done_unchanged_bad_input_and_database_trouble() {
    let db = Db::new("exit");
    db.ok(&["enqueue", "q", "{}"], 0);
    assert_eq!(db.ok(&["cancel", "1"], 0), "job 1 cancelled\n");
    assert_eq!(db.ok(&["cancel", "1"], 1), "job 1 unchanged (it is cancelled)\n");
    assert_eq!(db.ok(&["retry", "1"], 0), "job 1 retried\n");
    assert_eq!(db.ok(&["pause", "q"], 0), "queue q paused\n");
    assert_eq!(db.ok(&["pause", "q"], 1), "queue q unchanged (already paused)\n");
    assert_eq!(db.ok(&["resume", "q"], 0), "queue q resumed\n");
    assert_eq!(db.ok(&["purge", "--older-than", "0"], 1), "purged 0 jobs\n");
    for (args, message) in [
        (vec!["show", "99"], "orq: no job with id 99\n"),
        (vec!["cancel", "99"], "orq: queue_cancel: [not_found] no job with id 99\n"),
        (vec!["enqueue", "q", "{oops"], "orq: queue_enqueue: payload is not valid JSON"),
        (vec!["enqueue", "bad queue"], "orq: queue_enqueue: invalid queue name 'bad queue'"),
        (vec!["enqueue", "q", "--options", "[]"], "orq: --options must be a JSON object"),
        (vec!["purge", "--older-than", "soon"], "'soon' is not a duration"),
        // Past the one bound of durations (it used to panic, exit 101).
        (vec!["worker", "--timeout", "99999999999999999999d"], "more than ten years"),
        (vec!["run", "--items", "-", "--timeout", "3653d"], "more than ten years"),
        (vec!["watch", "--interval", "inf"], "must be a number of seconds >= 0"),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ] {
        let out = db.orq(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_orq"))
        .args(["--db", "/nonexistent/dir/q.db", "stats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("orq: cannot open /nonexistent/dir/q.db"));
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_orq")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "enqueue",
        "stats",
        "jobs",
        "cancel",
        "retry",
        "pause",
        "resume",
        "purge",
        "Exit status:",
        "3  database problem",
        "ORQ_DB",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn the_database_comes_from_orq_db_when_no_flag_names_one() {
    let db = Db::new("env");
    let out = Command::new(env!("CARGO_BIN_EXE_orq"))
        .env("ORQ_DB", db.path())
        .args(["enqueue", "q"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    assert!(db.path().exists());
}

#[test]
fn debug_reports_the_bundled_sqlite_and_wal() {
    let db = Db::new("debug");
    let d = db.json(&["debug"]);
    assert_eq!(d["journal_mode"], "wal");
    assert_eq!(d["synchronous"], 1, "NORMAL");
    assert_eq!(d["busy_timeout_ms"], 0, "a busy handler of orq's own, not SQLite's timeout");
}

#[test]
fn orq_durable_takes_the_usual_spellings_of_yes_and_no() {
    let db = Db::new("durable-env");
    for (value, synchronous) in [("1", 2), ("true", 2), ("on", 2), ("0", 1), ("false", 1), ("no", 1)] {
        let out = db.cmd(&["--json", "debug"]).env("ORQ_DURABLE", value).output().unwrap();
        assert!(out.status.success(), "ORQ_DURABLE={value}: {}", String::from_utf8_lossy(&out.stderr));
        let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["synchronous"], synchronous, "ORQ_DURABLE={value}");
    }
    let out = db.cmd(&["debug"]).env("ORQ_DURABLE", "maybe").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a value that is neither is bad usage");
}

#[test]
fn the_demo_works_through_its_jobs_and_dead_letters_one() {
    let db = Db::new("demo");
    let out = db.orq(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("enqueued job   6: thumbnail of cat.heic"), "{text}");
    assert!(text.contains("8 jobs on queue demo finished in") && text.contains("dead 1, done 7"), "{text}");
    assert!(text.contains("exit status 1: thumbnailer: unsupported format heic"), "{text}");
    let stats = db.json(&["stats"]);
    assert_eq!(stats[0]["done"], 7);
    assert_eq!(stats[0]["dead"], 1);
    let dead = db.json(&["jobs", "--state", "dead"]);
    assert_eq!(dead[0]["attempts"], 3, "it retried before it was dead-lettered");
    // A second demo on the same database does the work again.
    assert_eq!(db.orq(&["demo"]).status.code(), Some(0));
    assert_eq!(db.json(&["stats"])[0]["done"], 14);
}

#[test]
fn the_demos_closing_hints_work_as_printed_from_its_directory() {
    let db = Db::new("demo-hints");
    let orq = |args: &[&str]| {
        // No --db: the default ./orq.db, as a user types the hints.
        std::process::Command::new(env!("CARGO_BIN_EXE_orq"))
            .args(args)
            .current_dir(db.dir())
            .output()
            .unwrap()
    };
    let out = orq(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let hint = &text[text.find("See it all with").expect("a closing hint")..];
    let commands: Vec<&str> = hint.split('`').skip(1).step_by(2).collect();
    assert_eq!(
        commands,
        ["orq stats", "orq jobs", "orq show 6", "orq retry 6", "orq worker --until-empty"],
        "the hint names the dead job: {hint}"
    );
    for command in commands {
        let words: Vec<&str> = command.split(' ').skip(1).collect();
        let out = orq(&words);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let conn = rusqlite::Connection::open(db.dir().join("orq.db")).unwrap();
    orq::register(&conn).unwrap();
    let (state, attempts): (String, i64) = conn
        .query_row("SELECT state, attempts FROM queue_jobs WHERE id = 6", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(
        (state.as_str(), attempts),
        ("ready", 1),
        "retried, run once more, failed, waiting out its backoff"
    );
}

#[test]
fn limits_set_show_and_remove_queue_group_and_rate_limits() {
    let db = Db::new("limits");
    let set = db.json(&["limits", "set", "api", "--group-max-running", "2", "--rate", "100/1m"]);
    assert_eq!(set["changed"], true);
    assert_eq!(
        set["settings"],
        serde_json::json!({"group_max_running": 2, "rate": {"limit": 100, "per": 60.0}})
    );
    assert_eq!(
        db.ok(&["limits", "set", "api", "--group", "vip", "--max-running", "10"], 0),
        "queue api group vip: {\"max_running\":10}\n"
    );
    assert_eq!(db.ok(&["enqueue", "api", "{}", "--group", "vip"], 0), "1\n");
    let shown = db.json(&["limits"]);
    let rows: Vec<(String, serde_json::Value)> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["scope"].as_str().unwrap().to_string(), r["max_running"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            ("queue".to_string(), serde_json::Value::Null),
            ("each group".into(), 2.into()),
            ("group".into(), 10.into())
        ]
    );
    assert_eq!(
        db.ok(&["limits", "remove", "api", "--group", "vip"], 0),
        "queue api group vip: its queue's defaults\n"
    );
    assert_eq!(
        db.ok(&["limits", "remove", "api", "--group", "vip"], 1),
        "queue api group vip unchanged (already its queue's defaults)\n"
    );
    assert_eq!(db.ok(&["limits", "remove", "api"], 0), "queue api: no limits\n");
    assert_eq!(db.json(&["limits"]), serde_json::json!([]));
    // Bad rates and an empty set are usage errors (exit 2), naming the problem.
    for (args, problem) in [
        (&["limits", "set", "api", "--rate", "100"][..], "a rate is N/PERIOD"),
        (&["limits", "set", "api", "--rate", "x/1s"][..], "the rate's N must be a whole number"),
        (&["limits", "set", "api"][..], "give a limit to set"),
        (&["limits", "set", "api", "--group", "g", "--group-max-running", "1"][..], "cannot be used with"),
    ] {
        let out = db.orq(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(problem),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sql_prints_a_statements_rows_and_the_cluster_flag_refuses_what_needs_the_file() {
    let db = Db::new("sql");
    db.ok(&["enqueue", "mail", "{}"], 0);
    assert_eq!(
        db.json(&["sql", "SELECT queue, count(*) AS jobs FROM queue_jobs GROUP BY queue"]),
        serde_json::json!([{"queue": "mail", "jobs": 1}])
    );
    // What needs the file says so before it tries to reach the cluster
    // (exit 2, bad usage).
    let out = db.orq(&["--cluster", "127.0.0.1:1", "enqueue", "q", "--watch", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not through --cluster"), "{out:?}");
    // Without a reachable node, a cluster command is a database problem,
    // and a health check a critical one.
    let out = db.orq(&["--cluster", "127.0.0.1:1", "stats"]);
    assert_eq!(out.status.code(), Some(3));
    let out = db.orq(&["--cluster", "127.0.0.1:1", "health"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no cluster leader"), "{out:?}");
}

#[test]
fn signal_wakes_the_jobs_awaiting_it_or_is_kept_for_the_first() {
    let db = Db::new("signal");
    db.ok(&["enqueue", "orders", "{}"], 0);
    let claimed = db.json(&["sql", "SELECT id, token FROM queue_claim('w', 1)"]);
    let (id, token) = (claimed[0]["id"].as_i64().unwrap(), claimed[0]["token"].as_i64().unwrap());
    db.ok(&["sql", &format!("SELECT queue_await({id}, {token}, 'approved', 3600)")], 0);
    assert_eq!(
        db.json(&["signal", "approved", r#"{"by": "ann"}"#]),
        serde_json::json!({"signal": "approved", "woken": 1})
    );
    let again = db.json(&["sql", "SELECT token FROM queue_claim('w', 1)"]);
    let token = again[0]["token"].as_i64().unwrap();
    assert_eq!(
        db.json(&["sql", &format!("SELECT queue_step({id}, {token}, 'signal:approved') AS payload")]),
        serde_json::json!([{"payload": {"by": "ann"}}])
    );
    let kept = db.orq(&["signal", "later"]);
    assert!(String::from_utf8_lossy(&kept.stdout).contains("kept a week"), "{kept:?}");
    let bad = db.orq(&["signal", "x", "{bad"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("queue_signal: payload is not valid JSON"));
}
