//! `orq` exits by an error's kind, never its text (docs/errors.md): 3 for
//! database trouble (full, read-only, corrupt, locked, from a newer orq),
//! 2 for bad input and unknown jobs, as `orq --help` promises.

mod common;
#[path = "../../tests/src/corrupt.rs"]
mod corrupt;

use std::process::{Command, Output};

use common::Db;
use corrupt::corrupt;

fn status_and_stderr(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_full_disk_exits_3() {
    // A 1 MB file system of our own (a tmpfs in a user namespace), filled
    // but for 80 KB: enough to open the database, not for a 100 KB payload.
    if !Command::new("unshare").args(["-rm", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("skipped: this machine allows no user namespace (unshare -rm) to mount a small tmpfs in");
        return;
    }
    let db = Db::new("errors-full");
    let mnt = db.dir().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" && "$2" --db "$1/q.db" enqueue q '{}' >/dev/null &&
        head -c 2000000 /dev/zero > "$1/filler" 2>/dev/null; truncate -s -80K "$1/filler" &&
        exec "$2" --db "$1/q.db" enqueue q "[\"$(head -c 100000 /dev/zero | tr '\0' x)\"]""#;
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_orq"))
        .output()
        .unwrap();
    let (code, stderr) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("queue_enqueue: database or disk is full"), "{stderr}");
}

#[test]
fn a_read_only_database_exits_3() {
    let db = Db::new("errors-readonly");
    db.ok(&["enqueue", "q", "{}"], 0);
    let uri = format!("file:{}?mode=ro", db.path().display());
    let out =
        Command::new(env!("CARGO_BIN_EXE_orq")).args(["--db", &uri, "enqueue", "q", "{}"]).output().unwrap();
    let (code, stderr) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("queue_enqueue: attempt to write a readonly database"), "{stderr}");
    assert_eq!(db.one::<i64>("SELECT count(*) FROM orq_jobs"), 1);
}

#[test]
fn a_corrupt_database_exits_3() {
    let db = Db::new("errors-corrupt");
    db.ok(&["enqueue", "q", "{}"], 0);
    corrupt(&db.path());
    for args in [&["enqueue", "q", "{}"][..], &["cancel", "1"]] {
        let (code, stderr) = status_and_stderr(&db.orq(args));
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains("database disk image is malformed"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_database_from_a_newer_orq_exits_3() {
    let db = Db::new("errors-newer");
    db.ok(&["enqueue", "q", "{}"], 0);
    db.conn().execute("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'", []).unwrap();
    let (code, stderr) = status_and_stderr(&db.orq(&["enqueue", "q", "{}"]));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("queue_enqueue: [schema] this database has orq schema v99"), "{stderr}");
}

#[test]
fn a_held_lock_exits_3_and_bad_input_2() {
    let db = Db::new("errors-locked");
    db.ok(&["enqueue", "q", "{}"], 0);
    let holder = db.conn();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (code, stderr) = status_and_stderr(&db.orq(&["cancel", "1"]));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("queue_cancel: database is locked"), "{stderr}");
    holder.execute_batch("ROLLBACK").unwrap();
    let (code, stderr) = status_and_stderr(&db.orq(&["cancel", "7"]));
    assert_eq!((code, stderr.as_str()), (Some(2), "orq: queue_cancel: [not_found] no job with id 7\n"));
}
