//! A client of a whole cluster: finds the leader, keeps one connection to it,
//! and drops that connection whenever it stops being trustworthy so that the
//! next call looks for the (new) leader again.

use std::thread;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::message::{Rows, Value};
use crate::Error;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of a whole cluster: finds the leader among `addresses`, opens
/// `database` on it, and on `Error::Unavailable` drops the connection so the
/// next call finds the (new) leader again. It never retries a request by
/// itself (the caller decides what is safe to retry).
///
/// A transaction opened with `exec("BEGIN")` lives on the current connection:
/// when that connection is dropped, the server rolls the transaction back.
pub struct Cluster {
    addresses: Vec<String>,
    database: String,
    timeout: Duration,
    leader: Option<Leader>,
}

/// The connection to the leader, and the database opened on it, once opened.
struct Leader {
    conn: Conn,
    db: Option<u32>,
}

impl Cluster {
    /// Lazy: connects on first use.
    pub fn new(addresses: Vec<String>, database: &str) -> Cluster {
        Cluster { addresses, database: database.to_string(), timeout: DEFAULT_TIMEOUT, leader: None }
    }

    /// The timeout of each connect and of each wait for the server (default 5 s).
    pub fn with_timeout(mut self, t: Duration) -> Cluster {
        self.timeout = t;
        if let Some(l) = &mut self.leader {
            l.conn.set_timeout(t);
        }
        self
    }

    /// EXEC_SQL on the leader; see `Conn::exec` for what the server does.
    pub fn exec(&mut self, sql: &str, params: &[Value]) -> Result<(i64, i64), Error> {
        let (conn, db) = self.database()?;
        let r = conn.exec(db, sql, params);
        self.forget_on_unavailable(r)
    }

    /// QUERY_SQL on the leader; see `Conn::query`.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, Error> {
        let (conn, db) = self.database()?;
        let r = conn.query(db, sql, params);
        self.forget_on_unavailable(r)
    }

    /// Tries to (re)connect to the leader until `deadline`, sleeping briefly
    /// between rounds (for failover). Keeps the current connection if its node
    /// still says it is the leader.
    pub fn connect_leader(&mut self, deadline: Instant) -> Result<(), Error> {
        if let Some(l) = &mut self.leader {
            let me = l.conn.address().to_string();
            let left = deadline.saturating_duration_since(Instant::now());
            l.conn.set_timeout(self.timeout.min(left).max(Duration::from_millis(10)));
            let still = matches!(l.conn.leader(), Ok(Some((_, address))) if address == me);
            l.conn.set_timeout(self.timeout);
            if still && l.conn.usable() {
                return Ok(());
            }
            self.leader = None;
        }
        let mut pause = Duration::from_millis(50);
        loop {
            let err = match find_leader(&self.addresses, self.timeout, Some(deadline)) {
                Ok(conn) => {
                    self.leader = Some(Leader { conn, db: None });
                    return Ok(());
                }
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(err);
            }
            // An election takes a few election timeouts (300 ms to 3 s with
            // dqlite's settings): rounds every 50-500 ms catch its end early.
            thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The address of the node the current connection goes to, if any.
    pub fn leader_address(&self) -> Option<&str> {
        self.leader.as_ref().map(|l| l.conn.address())
    }

    /// The leader connection, for add/assign/remove/cluster. If a call on it
    /// returns `Error::Unavailable`, the next use of this client reconnects.
    pub fn admin(&mut self) -> Result<&mut Conn, Error> {
        let l = self.connected()?;
        Ok(&mut l.conn)
    }

    /// The leader connection, made now if there is none (one round over the
    /// addresses, no waiting).
    fn connected(&mut self) -> Result<&mut Leader, Error> {
        if self.leader.as_ref().is_some_and(|l| !l.conn.usable()) {
            self.leader = None;
        }
        if self.leader.is_none() {
            let conn = find_leader(&self.addresses, self.timeout, None)?;
            self.leader = Some(Leader { conn, db: None });
        }
        match &mut self.leader {
            Some(l) => Ok(l),
            None => Err(Error::Unavailable("no leader".into())),
        }
    }

    /// The leader connection with the database open on it.
    fn database(&mut self) -> Result<(&mut Conn, u32), Error> {
        let name = self.database.clone();
        let l = self.connected()?;
        let db = match l.db {
            Some(db) => db,
            None => match l.conn.open(&name) {
                Ok(db) => {
                    l.db = Some(db);
                    db
                }
                Err(e) => {
                    if matches!(e, Error::Unavailable(_)) {
                        self.leader = None;
                    }
                    return Err(e);
                }
            },
        };
        match &mut self.leader {
            Some(l) => Ok((&mut l.conn, db)),
            None => Err(Error::Unavailable("no leader".into())),
        }
    }

    /// Drops the connection after `Unavailable`, or whenever the call left it
    /// unusable (told "not leader", or closed to stop an endless result).
    fn forget_on_unavailable<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        let unusable = self.leader.as_ref().is_some_and(|l| !l.conn.usable());
        if unusable || matches!(r, Err(Error::Unavailable(_))) {
            self.leader = None;
        }
        r
    }
}

/// One round of leader finding, as go-dqlite's connector does it: ask each
/// address in turn who the leader is; a node naming itself is the leader, a
/// node naming another one is left for that one, which must confirm.
fn find_leader(addresses: &[String], timeout: Duration, deadline: Option<Instant>) -> Result<Conn, Error> {
    if addresses.is_empty() {
        return Err(Error::Unavailable("no node addresses given".into()));
    }
    let mut failures = Vec::new();
    for address in addresses {
        match ask(address, timeout, deadline) {
            Ok(mut conn) => {
                conn.set_timeout(timeout);
                return Ok(conn);
            }
            Err(why) => failures.push(format!("{address}: {why}")),
        }
    }
    Err(Error::Unavailable(format!("no leader found ({})", failures.join("; "))))
}

fn ask(address: &str, timeout: Duration, deadline: Option<Instant>) -> Result<Conn, String> {
    let mut conn = connect(address, timeout, deadline)?;
    let leader = match conn.leader().map_err(reason)? {
        None => return Err("knows no leader".into()),
        Some((_, leader)) if leader == address => return Ok(conn),
        Some((_, leader)) => leader,
    };
    drop(conn);
    let mut conn = connect(&leader, timeout, deadline).map_err(|e| format!("names leader {leader}: {e}"))?;
    match conn.leader() {
        Ok(Some((_, confirmed))) if confirmed == leader => Ok(conn),
        Ok(_) => Err(format!("names leader {leader}, which does not confirm")),
        Err(e) => Err(format!("names leader {leader}: {}", reason(e))),
    }
}

/// Connects within the timeout, shortened to what is left before the deadline.
fn connect(address: &str, timeout: Duration, deadline: Option<Instant>) -> Result<Conn, String> {
    let mut t = timeout;
    if let Some(d) = deadline {
        t = t.min(d.saturating_duration_since(Instant::now())).max(Duration::from_millis(10));
    }
    Conn::connect(address, t).map_err(reason)
}

/// An error's own words, for a list of why each address failed.
fn reason(e: Error) -> String {
    match e {
        Error::Unavailable(why) => why,
        sql => sql.to_string(),
    }
}
