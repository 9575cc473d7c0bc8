//! `orq enqueue QUEUE --watch DIR`: a job per file that appears in a
//! directory, once, even across restarts.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::{finish, signal, Db};

/// A running `orq enqueue files --watch DIR ...` and the lines it prints.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    errors: Receiver<String>,
}

/// The lines of `from`, sent one by one as they come.
fn lines_of(from: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let _ = send.send(line.unwrap());
        }
    });
    lines
}

impl Watcher {
    fn start(db: &Db, dir: &Path, more: &[&str]) -> Watcher {
        Watcher::start_with(&[], db, dir, more)
    }

    /// start, with `env` added to its environment.
    fn start_with(env: &[(&str, &str)], db: &Db, dir: &Path, more: &[&str]) -> Watcher {
        let dir = dir.to_str().unwrap();
        let mut args = vec!["enqueue", "files", "--watch", dir];
        args.extend_from_slice(more);
        let mut cmd = db.cmd(&args);
        let mut child =
            cmd.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let errors = lines_of(child.stderr.take().unwrap());
        // The start line comes once the directory is watched.
        let first = errors.recv_timeout(Duration::from_secs(10)).expect("a start line");
        assert!(first.starts_with("orq: enqueueing a job on files for each file in"), "{first}");
        Watcher { child, lines, errors }
    }

    /// The next line printed, within 10 s.
    fn next(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(10)).expect("a line from the watcher")
    }

    /// Asserts nothing is printed for `wait`.
    fn quiet_for(&self, wait: Duration) {
        if let Ok(line) = self.lines.recv_timeout(wait) {
            panic!("unexpected line: {line}");
        }
    }

    /// Stops it with `sig`; asserts exit 0 and returns stderr.
    fn stop(self, sig: i32) -> String {
        signal(&self.child, sig);
        let (code, _) = finish(self.child, Duration::from_secs(10));
        let stderr: Vec<String> = self.errors.iter().collect(); // to its end
        assert_eq!(code, Some(0), "{stderr:?}");
        stderr.join("\n")
    }
}

/// A directory to watch, inside the test's scratch directory.
fn inbox(db: &Db) -> PathBuf {
    let dir = db.dir().join("inbox");
    std::fs::create_dir(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// Writes `text` outside `dir` and moves it in as `name`, the way producers should.
fn move_in(dir: &Path, name: &str, text: &str) {
    let tmp = dir.parent().unwrap().join(format!("tmp-{name}"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn line(id: i64, path: &Path) -> String {
    format!("{id} {}", path.display())
}

#[test]
fn the_files_present_at_start_are_enqueued_in_name_order_with_their_path_name_and_size() {
    let db = Db::new("watch-start");
    let dir = inbox(&db);
    std::fs::write(dir.join("b.csv"), "1,2,3\n").unwrap();
    std::fs::write(dir.join("a.csv"), "1\n").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub").join("c.csv"), "no").unwrap();
    let w = Watcher::start(&db, &dir, &["--priority", "5"]);
    assert_eq!(w.next(), line(1, &dir.join("a.csv")));
    assert_eq!(w.next(), line(2, &dir.join("b.csv")));
    w.quiet_for(Duration::from_millis(300));
    let stderr = w.stop(libc::SIGINT);
    assert!(stderr.contains("stopped; 2 job(s) enqueued"), "{stderr}");
    let job = &db.json(&["show", "2"])["job"];
    assert_eq!(job["payload"], serde_json::json!({"path": dir.join("b.csv"), "name": "b.csv", "size": 6}));
    assert_eq!(job["priority"], 5, "the usual enqueue options apply");
}

#[test]
fn a_file_moved_in_is_enqueued_whole_and_json_says_so() {
    let db = Db::new("watch-move");
    let dir = inbox(&db);
    let w = Watcher::start(&db, &dir, &["--json"]);
    move_in(&dir, "report.pdf", "%PDF-1.7 ...");
    let printed: serde_json::Value = serde_json::from_str(&w.next()).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"id": 1, "path": dir.join("report.pdf"), "name": "report.pdf", "size": 12})
    );
    w.stop(libc::SIGTERM);
}

#[test]
fn a_file_written_in_place_is_enqueued_when_it_is_closed() {
    let db = Db::new("watch-write");
    let dir = inbox(&db);
    let w = Watcher::start(&db, &dir, &[]);
    // Only `cat` holds the file open for writing: a process forked while it
    // is open (as the test harness's threads do) would close it too, and
    // every close after writing counts.
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg("(printf 'first half '; sleep 1; printf 'second half') | cat > big.log")
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let path = dir.join("big.log");
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 11 {
        std::thread::sleep(Duration::from_millis(10));
    }
    w.quiet_for(Duration::from_millis(500));
    assert_eq!(w.next(), line(1, &path));
    assert!(writer.wait().unwrap().success());
    w.stop(libc::SIGTERM);
    assert_eq!(db.one::<i64>("SELECT payload ->> 'size' FROM queue_jobs WHERE id = 1"), 22);
}

#[test]
fn a_restart_does_not_enqueue_a_file_twice_even_after_its_job_finished() {
    let db = Db::new("watch-restart");
    let dir = inbox(&db);
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    let w = Watcher::start(&db, &dir, &["--cmd", "true"]);
    assert_eq!(w.next(), line(1, &dir.join("a.txt")));
    move_in(&dir, "b.txt", "b");
    assert_eq!(w.next(), line(2, &dir.join("b.txt")));
    w.stop(libc::SIGTERM);
    // One job done, so finished jobs are seen too, not only live ones.
    db.ok(&["worker", "--until-empty", "--builtin", "noop"], 0);
    let w = Watcher::start(&db, &dir, &["--cmd", "true"]);
    move_in(&dir, "c.txt", "c");
    assert_eq!(w.next(), line(3, &dir.join("c.txt")), "a.txt and b.txt are not enqueued again");
    // The same name again is a new file (another modification time).
    std::thread::sleep(Duration::from_millis(20));
    move_in(&dir, "a.txt", "a, rewritten");
    assert_eq!(w.next(), line(4, &dir.join("a.txt")));
    w.stop(libc::SIGTERM);
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 4);
}

#[test]
fn with_orq_portable_it_scans_the_directory_and_still_enqueues_each_file_once() {
    let db = Db::new("watch-portable");
    let dir = inbox(&db);
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    let w = Watcher::start_with(&[("ORQ_PORTABLE", "1")], &db, &dir, &[]);
    assert_eq!(w.next(), line(1, &dir.join("a.txt")));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", w.child.id())).unwrap();
    let inotify = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .find(|target| target.to_string_lossy().contains("inotify"));
    assert_eq!(inotify, None, "the portable way watches with no inotify descriptor");
    move_in(&dir, "b.txt", "b");
    assert_eq!(w.next(), line(2, &dir.join("b.txt")));
    // Each scan offers every file again: their keys make that one job each.
    w.quiet_for(Duration::from_millis(2500));
    w.stop(libc::SIGTERM);
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 2);
}

#[test]
fn dotfiles_and_subdirectories_are_ignored() {
    let db = Db::new("watch-dot");
    let dir = inbox(&db);
    std::fs::write(dir.join(".at-start"), "x").unwrap();
    let w = Watcher::start(&db, &dir, &[]);
    std::fs::write(dir.join(".partial"), "x").unwrap();
    move_in(&dir, ".moved-in", "x");
    std::fs::create_dir(dir.join("newdir")).unwrap();
    std::fs::write(dir.join("newdir").join("inner"), "x").unwrap();
    move_in(&dir, "real", "x");
    // Events come in order: the first line printed is the real file's.
    assert_eq!(w.next(), line(1, &dir.join("real")));
    w.stop(libc::SIGTERM);
    assert_eq!(db.one::<i64>("SELECT count(*) FROM queue_jobs"), 1);
}

#[test]
fn a_cmd_job_finds_its_file_as_dollar_1_whatever_its_name() {
    let db = Db::new("watch-cmd");
    let dir = inbox(&db);
    let name = "it's a \"file\" $(rm -rf x).txt";
    std::fs::write(dir.join(name), "twelve bytes").unwrap();
    let w = Watcher::start(&db, &dir, &["--cmd", r#"wc -c < "$1""#]);
    assert_eq!(w.next(), line(1, &dir.join(name)));
    w.stop(libc::SIGTERM);
    db.ok(&["worker", "--until-empty"], 0);
    assert_eq!(db.one::<String>("SELECT state || ' ' || result FROM queue_jobs WHERE id = 1"), "done 12");
}

#[test]
fn a_directory_that_is_missing_or_a_file_is_a_usage_error() {
    let db = Db::new("watch-bad");
    let file = db.dir().join("plain");
    std::fs::write(&file, "x").unwrap();
    for (dir, why) in [(db.dir().join("missing"), "No such file or directory"), (file, "not a directory")] {
        let out = db.orq(&["enqueue", "files", "--watch", dir.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("cannot watch {}: {why}", dir.display())), "{stderr}");
    }
    let out = db.orq(&["enqueue", "files", "{}", "--watch", "."]);
    assert_eq!(out.status.code(), Some(2), "a payload and --watch conflict");
}
