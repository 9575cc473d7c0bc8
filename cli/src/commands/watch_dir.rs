//! `orq enqueue QUEUE --watch DIR`: a producer that enqueues a job for each
//! file that appears in a directory (inotify on Linux, a scan every second
//! elsewhere and with ORQ_PORTABLE), until SIGINT or SIGTERM.
//!
//! One job per file, even across restarts: a file's key is made of its
//! path, inode and modification time, enqueued with key_scope "all", so
//! queue_enqueue itself (one statement, whatever other producers do) finds
//! the job that any earlier run made for the file, finished or not. A file
//! rewritten later is a new file (a new mtime); a new file that reuses a
//! deleted one's name and inode too has another mtime.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};

use crate::exit::{usage, Code, Result};
use crate::output::Output;
use crate::worker::signals::Wakeups;

/// What each file's job gets: its queue, the `--cmd` and the enqueue options.
pub struct Producer<'a> {
    pub conn: &'a Connection,
    pub queue: &'a str,
    pub cmd: Option<&'a str>,
    pub options: Map<String, Value>,
}

pub fn watch(p: &Producer, dir: &Path, out: &Output) -> Result<Code> {
    let cannot = |why: String| usage(format!("cannot watch {}: {why}", dir.display()));
    let dir = std::fs::canonicalize(dir).map_err(|e| cannot(e.to_string()))?;
    if !dir.is_dir() {
        return Err(cannot("not a directory".into()));
    }
    let wake = Wakeups::install().map_err(|e| usage(format!("cannot install signal handlers: {e}")))?;
    let watching = || {
        eprintln!("orq: enqueueing a job on {} for each file in {} (Ctrl-C stops)", p.queue, dir.display())
    };
    let mut enqueued = 0;
    follow(&dir, &wake, watching, |name| {
        enqueued += u64::from(p.offer(&dir, name, out)?);
        Ok(())
    })?;
    eprintln!("orq: stopped; {enqueued} job(s) enqueued");
    Ok(Code::Ok)
}

impl Producer<'_> {
    /// Enqueues the file `name` of `dir` unless it is a dotfile, not a
    /// regular file, gone already, or enqueued before; prints its job.
    /// Whether it enqueued it.
    fn offer(&self, dir: &Path, name: &OsStr, out: &Output) -> Result<bool> {
        let path = dir.join(name);
        let (Some(name), Some(text)) = (name.to_str(), path.to_str()) else {
            eprintln!("orq: skipped {}: the name is not UTF-8", path.display());
            return Ok(false);
        };
        if name.starts_with('.') {
            return Ok(false);
        }
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false), // moved on already
            Err(e) => return Err(usage(format!("cannot read {}: {e}", path.display()))),
        };
        let mut payload = json!({ "path": text, "name": name, "size": meta.len() });
        if let Some(cmd) = self.cmd {
            payload["cmd"] = cmd.into();
            payload["args"] = json!([text]);
        }
        let mut options = self.options.clone();
        options.insert("key".into(), file_key(text, &meta).into());
        options.insert("key_scope".into(), "all".into());
        let Some(id) = self.enqueue_new(&payload.to_string(), &Value::Object(options).to_string())? else {
            return Ok(false);
        };
        if out.json {
            println!("{}", json!({ "id": id, "path": text, "name": name, "size": meta.len() }));
        } else {
            println!("{id} {text}");
        }
        Ok(true)
    }

    /// The new job's id, or None when a job had the key already. A deduped
    /// enqueue writes nothing, so the connection's change count tells.
    fn enqueue_new(&self, payload: &str, options: &str) -> Result<Option<i64>> {
        let changes =
            |conn: &Connection| conn.query_row("SELECT total_changes()", [], |r| r.get::<_, i64>(0));
        let before = changes(self.conn)?;
        let id: i64 = self.conn.query_row(
            "SELECT queue_enqueue(?1, ?2, ?3)",
            params![self.queue, payload, options],
            |r| r.get(0),
        )?;
        Ok((changes(self.conn)? > before).then_some(id))
    }
}

/// A file's identity: its inode and modification time (ns) and its path,
/// the path hashed when the key would pass orq's 1024 bytes.
fn file_key(path: &str, meta: &std::fs::Metadata) -> String {
    let id = format!("file:{}:{}.{:09}", meta.ino(), meta.mtime(), meta.mtime_nsec());
    if path.len() + id.len() < 1000 {
        format!("{id}:{path}")
    } else {
        format!("{id}:fnv1a-{:016x}", super::run::fnv1a(path.as_bytes()))
    }
}

/// Offers each entry of `dir`, in name order.
fn scan(dir: &Path, offer: &mut impl FnMut(&OsStr) -> Result<()>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
    let mut names: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    names.sort();
    names.iter().try_for_each(|name| offer(name))
}

/// Offers the files in `dir` now, then each file that arrives, until a stop
/// signal; calls `watching` once nothing is missed. On Linux inotify tells
/// (unless ORQ_PORTABLE asks for the portable way: orq::platform);
/// elsewhere a scan every second finds them.
fn follow(
    dir: &Path,
    wake: &Wakeups,
    watching: impl FnOnce(),
    offer: impl FnMut(&OsStr) -> Result<()>,
) -> Result<()> {
    #[cfg(target_os = "linux")]
    if orq::platform::linux() {
        return follow_events(dir, wake, watching, offer);
    }
    follow_by_scanning(dir, wake, watching, offer)
}

/// Each file written and closed in `dir`, or moved in, as inotify reports it.
#[cfg(target_os = "linux")]
fn follow_events(
    dir: &Path,
    wake: &Wakeups,
    watching: impl FnOnce(),
    mut offer: impl FnMut(&OsStr) -> Result<()>,
) -> Result<()> {
    // Watching before the scan: a file that arrives during it is offered
    // twice at worst, and its key makes that one job.
    let events = inotify::Watch::new(dir)?;
    watching();
    scan(dir, &mut offer)?;
    while wake.stops() == 0 {
        if !wake.wait_or_readable(events.fd(), Duration::from_secs(60)) {
            continue;
        }
        for event in events.read()? {
            match event {
                inotify::Event::File(name) => offer(&name)?,
                inotify::Event::Overflow => scan(dir, &mut offer)?,
                inotify::Event::Gone => {
                    return Err(usage(format!("{} was removed or moved away", dir.display())))
                }
            }
        }
    }
    Ok(())
}

/// A scan every second: every file is offered again, and its key makes
/// that a read. Files must be moved in whole (no close events here).
fn follow_by_scanning(
    dir: &Path,
    wake: &Wakeups,
    watching: impl FnOnce(),
    mut offer: impl FnMut(&OsStr) -> Result<()>,
) -> Result<()> {
    watching();
    while wake.stops() == 0 {
        scan(dir, &mut offer)?;
        wake.wait(Duration::from_secs(1));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod inotify {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::Path;

    use crate::exit::{usage, Result};

    /// What happened in the watched directory.
    pub enum Event {
        /// An entry was closed after writing, or moved in.
        File(OsString),
        /// The kernel's event queue overflowed: events were lost.
        Overflow,
        /// The directory itself was deleted, moved or unmounted.
        Gone,
    }

    /// An inotify watch on one directory (orq's own, as `queue_wait` uses).
    pub struct Watch(orq::inotify::Watch);

    /// Complete files only: closed after writing, or moved in whole.
    const MASK: u32 = libc::IN_CLOSE_WRITE
        | libc::IN_MOVED_TO
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR
        | libc::IN_EXCL_UNLINK;

    impl Watch {
        pub fn new(dir: &Path) -> Result<Watch> {
            orq::inotify::Watch::new(dir, MASK)
                .map(Watch)
                .map_err(|e| usage(format!("cannot watch {}: {e}", dir.display())))
        }

        pub fn fd(&self) -> i32 {
            self.0.fd()
        }

        /// The events queued now (none if there are none).
        pub fn read(&self) -> Result<Vec<Event>> {
            let mut events = Vec::new();
            self.0
                .read(|mask, name| {
                    if mask & libc::IN_Q_OVERFLOW != 0 {
                        events.push(Event::Overflow);
                    } else if mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_UNMOUNT) != 0 {
                        events.push(Event::Gone);
                    } else if mask & libc::IN_ISDIR == 0 && !name.is_empty() {
                        events.push(Event::File(OsString::from_vec(name.to_vec())));
                    }
                })
                .map_err(|e| usage(format!("reading inotify events: {e}")))?;
            Ok(events)
        }
    }
}
