//! queue_wait: sleeps without holding a transaction, wakes for commits that
//! make a job of its queues claimable, and only for those.

use std::time::{Duration, Instant};

use orq_tests::{assert_error, memory, one, open, Scratch};

fn wait(conn: &rusqlite::Connection, sql: &str) -> (i64, Duration) {
    let started = Instant::now();
    let r: i64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
    (r, started.elapsed())
}

#[test]
fn it_returns_at_once_when_a_job_is_claimable_and_times_out_otherwise() {
    let scratch = Scratch::new("wait1");
    let conn = open(&scratch.path("q.db"));
    let (r, took) = wait(&conn, "SELECT queue_wait('q', 0.2)");
    assert_eq!(r, 0, "no schema, no job");
    assert!(took >= Duration::from_millis(190), "{took:?}");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let (r, took) = wait(&conn, "SELECT queue_wait('q', 5)");
    assert_eq!(r, 1);
    assert!(took < Duration::from_millis(100), "{took:?}");
    assert_eq!(wait(&conn, "SELECT queue_wait('other', 0.1)").0, 0, "a job of another queue does not count");
    assert_eq!(wait(&conn, r#"SELECT queue_wait('["other","q"]', 0.1)"#).0, 1);
    assert_eq!(wait(&conn, "SELECT queue_wait(NULL, 0.1)").0, 1);
}

#[test]
fn a_commit_from_another_process_wakes_it_at_once() {
    let scratch = Scratch::new("wait2");
    let path = scratch.path("q.db");
    let conn = open(&path);
    one::<i64>(&conn, "SELECT orq_migrate()");
    let writer = std::thread::spawn(move || {
        let other = open(&path);
        std::thread::sleep(Duration::from_millis(150));
        one::<i64>(&other, "SELECT queue_enqueue('noise', '{}')"); // not our queue
        std::thread::sleep(Duration::from_millis(150));
        one::<i64>(&other, "SELECT queue_enqueue('q', '{}')");
        Instant::now()
    });
    let (r, _) = wait(&conn, "SELECT queue_wait('q', 10)");
    let woke = Instant::now();
    let committed = writer.join().unwrap();
    assert_eq!(r, 1);
    let late = woke.saturating_duration_since(committed);
    assert!(late < Duration::from_millis(500), "woke {late:?} after the commit");
}

#[test]
fn a_delayed_job_wakes_it_when_due_and_routing_is_respected() {
    let scratch = Scratch::new("wait3");
    let conn = open(&scratch.path("q.db"));
    // Timed from before the enqueue: a slow first commit (the schema) on a
    // busy machine leaves the wait less than the delay.
    let before = Instant::now();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}', '{\"delay\":0.3}')");
    let (r, _) = wait(&conn, "SELECT queue_wait('q', 5)");
    let took = before.elapsed();
    assert_eq!(r, 1);
    assert!(took >= Duration::from_millis(299) && took < Duration::from_secs(2), "{took:?}");
    let conn2 = open(&scratch.path("r.db"));
    one::<i64>(&conn2, "SELECT queue_enqueue('gpu', '{}', '{\"requires\":[\"gpu\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0.1, 'cpu-only')").0, 0, "it could not claim that job");
    one::<i64>(&conn2, "SELECT queue_worker_register('gpu-box', '{\"capabilities\":[\"gpu\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0.1, 'gpu-box')").0, 1);
    // Without a worker, any job counts, routed ones included.
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0)").0, 1);
    one::<i64>(&conn2, "SELECT queue_enqueue('not-me', '{}', '{\"not_workers\":[\"x\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('not-me', 0)").0, 1);
}

#[test]
fn it_refuses_to_wait_inside_a_transaction() {
    let conn = memory();
    conn.execute_batch("BEGIN").unwrap();
    assert_error(&conn, "SELECT queue_wait('q', 1)", "queue_wait: call it outside a transaction");
    // Only looking is a read like any other.
    assert_eq!(one::<i64>(&conn, "SELECT queue_wait('q', 0)"), 0);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_error(
        &conn,
        "SELECT queue_wait('q', -1)",
        "queue_wait: timeout_seconds must be a number of seconds >= 0",
    );
    assert_error(&conn, "SELECT queue_wait('bad name', 1)", "queue_wait: invalid queue name");
    assert_eq!(wait(&conn, "SELECT queue_wait('q', 0.05)").0, 0, ":memory: polls, and works");
}

/// A VFS that delays every sync of a WAL file: with synchronous = FULL a
/// commit writes its frames to the WAL (an inotify event), syncs, and only
/// then becomes visible in the WAL index, so the sync's delay separates the
/// last file event of a commit from its visibility — what a slow disk or a
/// busy machine does.
mod slow_wal_sync {
    use rusqlite::ffi;
    use std::os::raw::{c_char, c_int};
    use std::sync::{Mutex, Once, OnceLock};

    pub const NAME: &str = "slow-wal-sync";
    /// Longer than queue_wait's fallback window (1 s, for when it cannot see
    /// the write lock): the waiter must see the writer still busy.
    pub const DELAY: std::time::Duration = std::time::Duration::from_millis(1500);

    struct Vfs {
        base: *mut ffi::sqlite3_vfs,
        wal_methods: Mutex<Option<(&'static ffi::sqlite3_io_methods, &'static ffi::sqlite3_io_methods)>>,
    }
    // SAFETY: the pointers are SQLite's static, thread-safe VFS and methods.
    unsafe impl Send for Vfs {}
    unsafe impl Sync for Vfs {}
    static VFS: OnceLock<Vfs> = OnceLock::new();

    unsafe extern "C" fn slow_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
        std::thread::sleep(DELAY);
        let (_, base) = VFS.get().unwrap().wal_methods.lock().unwrap().unwrap();
        (base.xSync.unwrap())(file, flags)
    }

    unsafe extern "C" fn open(
        vfs: *mut ffi::sqlite3_vfs,
        name: *const c_char,
        file: *mut ffi::sqlite3_file,
        flags: c_int,
        out: *mut c_int,
    ) -> c_int {
        let _ = vfs;
        let state = VFS.get().unwrap();
        let rc = ((*state.base).xOpen.unwrap())(state.base, name, file, flags, out);
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 && !(*file).pMethods.is_null() {
            let mut slot = state.wal_methods.lock().unwrap();
            let (slow, _) = *slot.get_or_insert_with(|| {
                let base: &'static ffi::sqlite3_io_methods = &*(*file).pMethods;
                let slow = Box::leak(Box::new(ffi::sqlite3_io_methods { xSync: Some(slow_sync), ..*base }));
                (slow, base)
            });
            (*file).pMethods = slow;
        }
        rc
    }

    /// Registers the VFS (once per process).
    pub fn register() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            VFS.set(Vfs { base, wal_methods: Mutex::new(None) }).ok().unwrap();
            let name = Box::leak(format!("{NAME}\0").into_boxed_str());
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                zName: name.as_ptr().cast(),
                pNext: std::ptr::null_mut(),
                xOpen: Some(open),
                ..*base
            }));
            assert_eq!(ffi::sqlite3_vfs_register(vfs, 0), ffi::SQLITE_OK);
        });
    }
}

#[test]
fn a_commit_that_becomes_visible_long_after_its_last_file_event_still_wakes_it() {
    slow_wal_sync::register();
    let scratch = Scratch::new("wait-slow-sync");
    let path = scratch.path("q.db");
    let conn = open(&path);
    one::<i64>(&conn, "SELECT orq_migrate()");
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
        let other = rusqlite::Connection::open_with_flags_and_vfs(&path, flags, slow_wal_sync::NAME).unwrap();
        other.busy_timeout(Duration::from_secs(5)).unwrap();
        orq_tests::load(&other);
        other.execute_batch("PRAGMA synchronous = FULL").unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let started = Instant::now();
        one::<i64>(&other, "SELECT queue_enqueue('q', '{}')");
        let committed = Instant::now();
        assert!(committed - started >= slow_wal_sync::DELAY, "the commit's sync was slow");
        // Keep the connection open (closing it checkpoints: a later file
        // event that would hide the missed wake-up) until the waiter is done.
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
        committed
    });
    let (r, _) = wait(&conn, "SELECT queue_wait('q', 5)");
    let woke = Instant::now();
    done_tx.send(()).unwrap();
    let committed = writer.join().unwrap();
    assert_eq!(r, 1);
    let late = woke.saturating_duration_since(committed);
    assert!(late < Duration::from_millis(500), "woke {late:?} after the commit");
}

#[test]
fn with_orq_portable_it_polls_and_a_commit_from_another_process_still_wakes_it() {
    let scratch = Scratch::new("wait-portable");
    let path = scratch.path("q.db");
    let conn = open(&path);
    one::<i64>(&conn, "SELECT orq_migrate()");
    // The waiter is a sqlite3 shell of its own: ORQ_PORTABLE is read once per process.
    let script = scratch.path("wait.sql");
    std::fs::write(
        &script,
        format!(
            ".load {}\n.timeout 5000\nSELECT json_extract(orq_debug(), '$.platform');\nSELECT queue_wait('q', 10);\n",
            orq_tests::ext_path().display()
        ),
    )
    .unwrap();
    let mut waiter = std::process::Command::new("sqlite3")
        .args(["-batch", "-init", "/dev/null", path.to_str().unwrap()])
        .env("ORQ_PORTABLE", "1")
        .stdin(std::fs::File::open(&script).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sqlite3");
    std::thread::sleep(Duration::from_millis(300));
    one::<i64>(&conn, "SELECT queue_enqueue('noise', '{}')"); // not its queue
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiter.try_wait().unwrap().is_none(), "it waits until a job of its queue comes");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let committed = Instant::now();
    let out = waiter.wait_with_output().unwrap();
    let late = committed.elapsed();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "portable\n1\n");
    // Polling sees a commit 50 ms late at worst; the rest is the shell exiting.
    assert!(late < Duration::from_millis(500), "woke {late:?} after the commit");
    eprintln!("the polling waiter ended {late:?} after the commit");
}
