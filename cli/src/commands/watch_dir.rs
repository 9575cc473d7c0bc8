//! `orq enqueue QUEUE --watch DIR`: a producer that enqueues a job for each
//! file that appears in a directory (inotify on Linux, a scan every second
//! elsewhere), until SIGINT or SIGTERM.
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

/// Offers the files in `dir` now, then each file written and closed there
/// or moved in, until a stop signal; calls `watching` once nothing is missed.
#[cfg(target_os = "linux")]
fn follow(
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

/// Elsewhere, a scan every second: every file is offered again, and its key
/// makes that a read. Files must be moved in whole (no close events here).
#[cfg(not(target_os = "linux"))]
fn follow(
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
    use std::ffi::{CString, OsString};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
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

    /// An inotify instance watching one directory.
    pub struct Watch {
        fd: i32,
    }

    /// Complete files only: closed after writing, or moved in whole.
    const MASK: u32 = libc::IN_CLOSE_WRITE
        | libc::IN_MOVED_TO
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR
        | libc::IN_EXCL_UNLINK;

    impl Watch {
        pub fn new(dir: &Path) -> Result<Watch> {
            let failed = |what: &str| {
                usage(format!("cannot watch {}: {what}: {}", dir.display(), std::io::Error::last_os_error()))
            };
            let path =
                CString::new(dir.as_os_str().as_bytes()).map_err(|_| usage("a path with a NUL byte"))?;
            // SAFETY: plain system calls with a valid C string.
            let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if fd < 0 {
                return Err(failed("inotify_init1"));
            }
            let watch = Watch { fd };
            // SAFETY: as above.
            if unsafe { libc::inotify_add_watch(fd, path.as_ptr(), MASK) } < 0 {
                return Err(failed("inotify_add_watch"));
            }
            Ok(watch)
        }

        pub fn fd(&self) -> i32 {
            self.fd
        }

        /// The events queued now (none if there are none).
        pub fn read(&self) -> Result<Vec<Event>> {
            let mut events = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // SAFETY: reads at most buf.len() bytes into buf.
                let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n == 0 {
                    return Ok(events);
                }
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    return match e.kind() {
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(events),
                        _ => Err(usage(format!("reading inotify events: {e}"))),
                    };
                }
                parse(&buf[..n as usize], &mut events);
            }
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            // SAFETY: closes the descriptor this struct owns.
            unsafe {
                libc::close(self.fd);
            }
        }
    }

    /// Each `struct inotify_event` of `bytes`: wd, mask, cookie, len, then
    /// `len` bytes of NUL-padded name.
    fn parse(mut bytes: &[u8], events: &mut Vec<Event>) {
        let word = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        while bytes.len() >= 16 {
            let (mask, len) = (word(bytes, 4), word(bytes, 12) as usize);
            let Some(name) = bytes.get(16..16 + len) else { return };
            let name: Vec<u8> = name.iter().copied().take_while(|&b| b != 0).collect();
            bytes = &bytes[16 + len..];
            if mask & libc::IN_Q_OVERFLOW != 0 {
                events.push(Event::Overflow);
            } else if mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_UNMOUNT) != 0 {
                events.push(Event::Gone);
            } else if mask & libc::IN_ISDIR == 0 && !name.is_empty() {
                events.push(Event::File(OsString::from_vec(name)));
            }
        }
    }
}
