//! Per-connection state: the queue clock, and the resources orq keeps for a
//! host connection (its cached statements, and a side connection for writes
//! the host cannot make itself; see txn.rs).
//!
//! The resources hold prepared statements on the host connection, and
//! SQLite's `sqlite3_close` refuses to close a connection that still has
//! statements. SQLite disconnects every virtual table before it checks, so
//! the resources live exactly as long as the `orq_connection` eponymous
//! table is connected: opening them connects it, its xDisconnect drops them.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, TryLockError};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rusqlite::{ffi, Connection, OpenFlags};

use crate::clock::Clock;
use crate::error::{invalid, Result};

/// Statements orq caches per connection; room for every file in sql/.
const STATEMENT_CACHE: usize = 64;
/// The side connection's page cache, in KiB (it reads little: one claim).
const SIDE_CACHE_KIB: i64 = 1024;

pub use crate::host::Handle;

/// What a side connection needs before orq's statements run on it: the
/// helper functions they call (functions.rs registers them; passed in, so
/// that this module need not know the function layer above it).
pub type SideSetup = fn(&Connection) -> rusqlite::Result<()>;

pub struct Session {
    db: Handle,
    pub clock: Clock,
    side_setup: SideSetup,
    resources: Mutex<Option<Resources>>,
}

pub struct Resources {
    pub db: Handle,
    pub host: Connection,
    pub side: SideConnection,
    pub rng: SmallRng,
    /// Whether `schema::prefer_wal` already ran for this connection.
    pub wal_checked: bool,
    /// Whether the host replicates the database (host::replicated): then
    /// orq makes no side connection, turn file or watch, and never sleeps.
    pub replicated: bool,
    /// The inotify watch of queue_wait, made on first use (None: not made
    /// yet; Some(None): none, queue_wait polls: no file, or not Linux).
    pub watcher: Option<Option<crate::commit_watch::Watcher>>,
    /// The turn file of txn.rs, made on first write (Some(None): none can be made).
    pub turnstile: Option<Option<crate::turnstile::Turnstile>>,
    /// When this connection's writes next apply retention (maintenance.rs).
    pub retention: crate::maintenance::Pace,
    /// Whether the host's next write must check the schema (schema.rs).
    pub schema_checked: crate::schema::Checked,
    /// The queues whose rows this connection saw committed (txn.rs).
    pub registered_queues: RegisteredQueues,
}

/// Queue names whose rows in orq_queues this connection saw committed.
/// Queues are never deleted, so an enqueue into one of these need not
/// register its queue again (migration 013: a statement per enqueue cost
/// more than the per-row trigger it replaced). Bounded: past
/// MAX_REGISTERED_QUEUES names it starts over.
#[derive(Default)]
pub struct RegisteredQueues(HashSet<String>);

const MAX_REGISTERED_QUEUES: usize = 10_000;

impl RegisteredQueues {
    pub fn contains(&self, queue: &str) -> bool {
        self.0.contains(queue)
    }

    pub fn insert(&mut self, queue: &str) {
        if self.0.len() >= MAX_REGISTERED_QUEUES {
            self.0.clear();
        }
        self.0.insert(queue.to_owned());
    }
}

/// The side connection to the host's database file, opened on first use.
pub struct SideConnection(Option<Connection>, SideSetup);

impl Session {
    pub fn new(db: *mut ffi::sqlite3, side_setup: SideSetup) -> Session {
        Session { db: Handle(db), clock: Clock::default(), side_setup, resources: Mutex::new(None) }
    }

    /// The host connection's handle.
    pub fn handle(&self) -> *mut ffi::sqlite3 {
        self.db.0
    }

    /// Runs `f` with this connection's resources, opening them on first use.
    pub fn with<T>(&self, f: impl FnOnce(&mut Resources) -> Result<T>) -> Result<T> {
        let mut slot = self.lock()?;
        if slot.is_none() {
            *slot = Some(Resources::open(self.db, self.side_setup)?);
        }
        match slot.as_mut() {
            Some(res) => f(res),
            None => Err(invalid("internal error: connection resources missing")),
        }
    }

    /// Drops the cached statements and the side connection (the host is closing).
    pub fn release(&self) {
        if let Ok(mut slot) = self.lock() {
            *slot = None;
        }
    }

    /// Whether a side connection is open, for `orq_connection`.
    pub fn has_side_connection(&self) -> bool {
        self.lock().map(|slot| slot.as_ref().is_some_and(|r| r.side.0.is_some())).unwrap_or(false)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Option<Resources>>> {
        match self.resources.try_lock() {
            Ok(guard) => Ok(guard),
            // A panic was caught mid-call; the transaction guards rolled back
            // on the way out, so the resources are consistent.
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(invalid(
                "orq functions cannot be called from inside another orq call on the same connection",
            )),
        }
    }
}

impl Resources {
    fn open(db: Handle, side_setup: SideSetup) -> Result<Resources> {
        // SAFETY: `db` is the live host connection SQLite is calling us on; a
        // Connection from `from_handle` never closes it.
        let host = unsafe { Connection::from_handle(db.0)? };
        host.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Preparing a statement that names the guard table connects it (see
        // the module comment); the statement itself is dropped at once.
        host.prepare("SELECT 1 FROM orq_connection")?;
        Ok(Resources {
            db,
            host,
            side: SideConnection(None, side_setup),
            rng: SmallRng::from_os_rng(),
            wal_checked: false,
            replicated: crate::host::replicated(db),
            watcher: None,
            turnstile: None,
            retention: Default::default(),
            schema_checked: Default::default(),
            registered_queues: Default::default(),
        })
    }
}

impl SideConnection {
    pub fn is_open(&self) -> bool {
        self.0.is_some()
    }

    /// The side connection, opened on first use; `None` when there can be
    /// none: the database is not a writable WAL file (in rollback-journal
    /// mode a second connection would wait forever on the host's own read lock).
    pub fn get(&mut self, host: &Connection, db: Handle) -> Result<Option<&Connection>> {
        if self.0.is_none() {
            self.0 = open_side(host, db, self.1)?;
        }
        Ok(self.0.as_ref())
    }
}

fn open_side(host: &Connection, db: Handle, setup: SideSetup) -> Result<Option<Connection>> {
    let path = match host.path() {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => return Ok(None),
    };
    let mode: String = host.prepare_cached("PRAGMA main.journal_mode")?.query_row([], |r| r.get(0))?;
    // SAFETY: plain query on the live host handle.
    let read_only = unsafe { ffi::sqlite3_db_readonly(db.0, c"main".as_ptr()) } != 0;
    if !mode.eq_ignore_ascii_case("wal") || read_only {
        return Ok(None);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let side = match crate::host::vfs_name(db) {
        Some(vfs) => Connection::open_with_flags_and_vfs(&path, flags, vfs.as_str())?,
        None => Connection::open_with_flags(&path, flags)?,
    };
    // It inherits nothing from the host: copy what changes durability and
    // how pages are read, and let txn.rs do the waiting (busy_timeout 0).
    // Its statement journals and RETURNING buffers stay in memory whatever
    // the host's temp_store (a temporary file each would cost a syscall).
    let pragma = |name: &str| -> Result<i64> {
        Ok(host.prepare_cached(&format!("PRAGMA main.{name}"))?.query_row([], |r| r.get(0))?)
    };
    let (synchronous, mmap_size) = (pragma("synchronous")?, pragma("mmap_size")?);
    side.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA mmap_size = {mmap_size}; \
         PRAGMA cache_size = -{SIDE_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
    ))?;
    side.busy_timeout(std::time::Duration::ZERO)?;
    side.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    setup(&side)?;
    Ok(Some(side))
}
