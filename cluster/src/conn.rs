//! One protocol connection to one node, and the requests it sends.
//!
//! The server handles one request at a time per connection and answers each
//! with one response, except QUERY_SQL, whose rows may come as several ROWS
//! responses in a row. Nothing is pipelined here, so after every call the
//! stream is back at a message boundary, unless an I/O error, a timeout or a
//! malformed response interrupted it: then the connection is poisoned (shut
//! down, and every later call fails with `Error::Unavailable`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::{outcome_unknown, SQLITE_IOERR_LEADERSHIP_LOST, SQLITE_IOERR_NOT_LEADER};
use crate::message::{
    decode_failure, decode_rows, malformed, parse_header, request, response, Reader, Request, Rows, RowsEnd,
    Value, CLUSTER_FORMAT_V1, MAX_WIRE_PARAMS, PROTOCOL_VERSION, WORD,
};
use crate::sqltext;
use crate::Error;

/// Socket timeouts cannot be zero; a zero timeout means this instead.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// A node's role in the raft configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// Replicates the log and votes in elections.
    Voter,
    /// Replicates the log but does not vote; can be promoted quickly.
    StandBy,
    /// Neither replicates nor votes.
    Spare,
}

impl Role {
    fn code(self) -> u64 {
        match self {
            Role::Voter => 0,
            Role::StandBy => 1,
            Role::Spare => 2,
        }
    }
}

/// One node of the cluster, as the CLUSTER request lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub id: u64,
    pub address: String,
    pub role: Role,
}

/// One protocol connection to one node (after the handshake).
pub struct Conn {
    stream: TcpStream,
    address: String,
    timeout: Duration,
    /// Why the stream can no longer be used, once it cannot.
    broken: Option<String>,
    /// The node said it is not (or no longer) the leader.
    not_leader: bool,
    /// A LEADER answer named this node itself: a later change of leader means
    /// this connection no longer reaches the leader.
    was_leader: bool,
}

impl Conn {
    /// Connects to `address` ("host:port") and sends the protocol version.
    /// `timeout` bounds the TCP connect and, from then on, each wait for the
    /// server: sending a request, and receiving each response message.
    pub fn connect(address: &str, timeout: Duration) -> Result<Conn, Error> {
        let timeout = timeout.max(MIN_TIMEOUT);
        let unavailable =
            |e: &dyn std::fmt::Display| Error::Unavailable(format!("cannot connect to {address}: {e}"));
        let addrs = address.to_socket_addrs().map_err(|e| unavailable(&e))?;
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(unavailable(&e)),
            (None, None) => return Err(unavailable(&"the address resolves to nothing")),
        };
        // Requests are written whole; waiting to coalesce them only adds latency.
        stream.set_nodelay(true).map_err(|e| unavailable(&e))?;
        let mut conn = Conn {
            stream,
            address: address.to_string(),
            timeout,
            broken: None,
            not_leader: false,
            was_leader: false,
        };
        // The server answers the handshake with nothing: a wrong version just
        // makes it close the connection, which the first request then sees.
        conn.write_all(&PROTOCOL_VERSION.to_le_bytes())?;
        Ok(conn)
    }

    /// The address this connection was made to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Changes the timeout of each later wait for the server.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout.max(MIN_TIMEOUT);
    }

    /// Whether the connection still works and was not told "not leader" (the
    /// cluster client drops it otherwise).
    pub(crate) fn usable(&self) -> bool {
        self.broken.is_none() && !self.not_leader
    }

    /// LEADER request: the leader this node knows of, as (id, address), or
    /// `None` when it knows none. Only voters know; others always say `None`.
    pub fn leader(&mut self) -> Result<Option<(u64, String)>, Error> {
        let body = self.call(Request::new(request::LEADER).u64(0), response::SERVER)?;
        let mut r = Reader::new(&body, "leader");
        let (id, address) = self.parsed(r.u64().and_then(|id| Ok((id, r.text()?))))?;
        if id == 0 || address.is_empty() {
            return Ok(None);
        }
        if address == self.address {
            self.was_leader = true;
        } else {
            self.not_leader = true;
        }
        Ok(Some((id, address)))
    }

    /// CLUSTER request (format 1): every node of the configuration, with its role.
    pub fn cluster(&mut self) -> Result<Vec<NodeInfo>, Error> {
        let body = self.call(Request::new(request::CLUSTER).u64(CLUSTER_FORMAT_V1), response::SERVERS)?;
        let nodes = decode_nodes(&body);
        self.parsed(nodes)
    }

    /// ADD request: adds node `id` at `address` to the configuration as a
    /// spare. Must be sent to the leader; follow with `assign` to give it a role.
    pub fn add(&mut self, id: u64, address: &str) -> Result<(), Error> {
        let req = Request::new(request::ADD).u64(id).text("address", address)?;
        self.call_leader(req, response::EMPTY).map(drop)
    }

    /// ASSIGN request: gives node `id` a role. Must be sent to the leader.
    pub fn assign(&mut self, id: u64, role: Role) -> Result<(), Error> {
        let req = Request::new(request::ASSIGN).u64(id).u64(role.code());
        self.call_leader(req, response::EMPTY).map(drop)
    }

    /// REMOVE request: removes node `id` from the configuration. Must be sent
    /// to the leader.
    pub fn remove(&mut self, id: u64) -> Result<(), Error> {
        let req = Request::new(request::REMOVE).u64(id);
        self.call_leader(req, response::EMPTY).map(drop)
    }

    /// TRANSFER request: hands leadership to voter `id` (0: raft picks the most
    /// up-to-date voter). Sent to the leader; answered once the node is no
    /// longer leader, or with a failure ("leadership transfer failed") if it
    /// still is. Afterwards this connection no longer reaches the leader.
    pub fn transfer(&mut self, id: u64) -> Result<(), Error> {
        let req = Request::new(request::TRANSFER).u64(id);
        self.call_leader(req, response::EMPTY)?;
        self.not_leader = true;
        Ok(())
    }

    /// OPEN request: opens `database` on this connection (one per connection)
    /// and returns its id (always 0 with 1.11).
    pub fn open(&mut self, database: &str) -> Result<u32, Error> {
        // Flags and VFS name are sent as go-dqlite does; the 1.11 server ignores both.
        let req = Request::new(request::OPEN).text("database name", database)?.u64(0).text("vfs", "")?;
        let body = self.call(req, response::DB)?;
        let id = Reader::new(&body, "db").u32();
        self.parsed(id)
    }

    /// EXEC_SQL request: runs `sql` and returns (last insert rowid, changes).
    ///
    /// The server runs every statement of `sql` in turn, each replicated on
    /// its own as it commits (so `"BEGIN; ...; COMMIT"` in one string works and
    /// commits once), and reports the counts of the last one (for a statement
    /// that changes no rows, such as BEGIN or COMMIT, SQLite's counts are those
    /// of the last change on the connection). `params` are
    /// bound to the FIRST statement only; parameters of later statements stay
    /// unbound, which SQLite reads as NULL. If a statement fails, the ones
    /// before it have run (and, outside an explicit transaction, committed).
    /// More than 255 parameters are written into the first statement as
    /// literals (see `sqltext`). An open transaction lives on this connection
    /// across requests and is rolled back by the server if the connection drops.
    pub fn exec(&mut self, db: u32, sql: &str, params: &[Value]) -> Result<(i64, i64), Error> {
        let req = sql_request(request::EXEC_SQL, db, sqltext::trim_end(sql), params)?;
        let body = self.call_leader(req, response::RESULT)?;
        let mut r = Reader::new(&body, "result");
        let result = r.u64().and_then(|id| Ok((id as i64, r.u64()? as i64)));
        self.parsed(result)
    }

    /// QUERY_SQL request: runs the first statement of `sql` (the server ignores
    /// the rest) and reads every part of its result. A statement that returns
    /// no columns is refused by the server without being run. So is, by this
    /// client, one whose column names fill a page: 1.11 would stream empty
    /// parts forever, so the connection is closed and the error is
    /// SQLITE_TOOBIG (name long columns with `AS`, which matters for columns
    /// that are inlined parameters, named after their literal).
    pub fn query(&mut self, db: u32, sql: &str, params: &[Value]) -> Result<Rows, Error> {
        let req = sql_request(request::QUERY_SQL, db, sql, params)?;
        let mut body = match self.call_leader(req, response::ROWS) {
            // What 1.11 says, unhelpfully, for a statement without columns.
            Err(Error::Sql { code: 1, message }) if message == "not an error" => {
                let message =
                    "the statement returns no columns, so it cannot be queried (exec runs it)".into();
                return Err(Error::Sql { code: 1, message });
            }
            r => r?,
        };
        let mut rows = Rows::default();
        let mut first = true;
        loop {
            match decode_rows(&body, &mut rows, first) {
                Ok(RowsEnd::Done) => return Ok(rows),
                Ok(RowsEnd::Part) => {}
                // The statement never ran, but the server would stream parts
                // forever: the connection has to go.
                Err(Error::Unavailable(why)) => return Err(self.poison(why)),
                Err(e) => {
                    self.poison("closed to stop an endless result (column names too long)".into());
                    return Err(e);
                }
            }
            first = false;
            // The server sends the next part by itself once this one is written.
            let (kind, next) = self.receive()?;
            body = self.expect(kind, next, response::ROWS, true)?;
        }
    }

    /// Sends a request whose failure may mean "no longer leader".
    fn call_leader(&mut self, req: Request, want: u8) -> Result<Vec<u8>, Error> {
        self.send(req)?;
        let (kind, body) = self.receive()?;
        self.expect(kind, body, want, true)
    }

    /// Sends a request that does not depend on leadership.
    fn call(&mut self, req: Request, want: u8) -> Result<Vec<u8>, Error> {
        self.send(req)?;
        let (kind, body) = self.receive()?;
        self.expect(kind, body, want, false)
    }

    fn expect(&mut self, kind: u8, body: Vec<u8>, want: u8, leadership: bool) -> Result<Vec<u8>, Error> {
        if kind == want {
            return Ok(body);
        }
        if kind != response::FAILURE {
            return Err(self.poison(format!("unexpected response type {kind} (expected {want})")));
        }
        let (code, message) = self.parsed(decode_failure(&body))?;
        Err(self.failure(code, message, leadership))
    }

    /// Classifies a FAILURE response. Leadership failures leave the outcome
    /// unknown. So does any other failure of a request that needs the leader
    /// when, asked right after, the node knows no leader or names another one:
    /// the failure may then come from losing leadership mid-request (1.11 also
    /// reports some of those as a plain SQLITE_ERROR, e.g. a failed barrier).
    fn failure(&mut self, code: u64, message: String, leadership: bool) -> Error {
        let unknown = |why: &str| {
            Error::Unavailable(format!(
                "{why} (server: {message}, code {code}); the outcome of the request is unknown"
            ))
        };
        if outcome_unknown(code) {
            self.not_leader = true;
            return unknown(match code {
                SQLITE_IOERR_NOT_LEADER => "the node is not the leader",
                SQLITE_IOERR_LEADERSHIP_LOST => "the node lost leadership during the request",
                _ => "replicating the request failed",
            });
        }
        if leadership {
            match self.leader() {
                Err(e) => return e,
                Ok(None) => {
                    self.not_leader = true;
                    return unknown("the request failed and the node now knows no leader");
                }
                Ok(Some(_)) if self.was_leader && self.not_leader => {
                    return unknown("the request failed and the node is no longer the leader");
                }
                Ok(Some(_)) => {}
            }
        }
        Error::Sql { code, message }
    }

    /// Passes a decoded value through, poisoning the connection when the
    /// response did not parse.
    fn parsed<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        r.map_err(|e| match e {
            Error::Unavailable(why) => self.poison(why),
            sql => sql,
        })
    }

    fn send(&mut self, req: Request) -> Result<(), Error> {
        self.check_usable()?;
        let out = req.into_bytes()?;
        self.write_all(&out)
    }

    fn check_usable(&self) -> Result<(), Error> {
        match &self.broken {
            Some(why) => Err(Error::Unavailable(format!("connection to {} is broken: {why}", self.address))),
            None => Ok(()),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let r = self.stream.set_write_timeout(Some(self.timeout)).and_then(|()| self.stream.write_all(bytes));
        r.map_err(|e| self.io_error(e, "sending"))
    }

    /// Reads one response message, within one timeout.
    fn receive(&mut self) -> Result<(u8, Vec<u8>), Error> {
        self.check_usable()?;
        // No deadline at all for a timeout too large to add (Duration::MAX).
        let deadline = Instant::now().checked_add(self.timeout);
        let mut header = [0u8; WORD];
        self.read_exact(&mut header, deadline)?;
        let (len, kind) = parse_header(&header);
        // Grows as bytes arrive rather than trusting the length up front.
        let mut body = Vec::with_capacity(len.min(1 << 20));
        let mut chunk = vec![0u8; len.min(64 << 10)];
        while body.len() < len {
            let n = (len - body.len()).min(chunk.len());
            self.read_exact(&mut chunk[..n], deadline)?;
            body.extend_from_slice(&chunk[..n]);
        }
        Ok((kind, body))
    }

    fn read_exact(&mut self, mut buf: &mut [u8], deadline: Option<Instant>) -> Result<(), Error> {
        while !buf.is_empty() {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Err(self.io_error(io::ErrorKind::TimedOut.into(), "waiting for"));
            }
            let r = self.stream.set_read_timeout(left).and_then(|()| self.stream.read(buf));
            match r {
                Ok(0) => return Err(self.io_error(io::ErrorKind::UnexpectedEof.into(), "waiting for")),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, "waiting for")),
            }
        }
        Ok(())
    }

    fn io_error(&mut self, e: io::Error, doing: &str) -> Error {
        let why = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("timed out after {:?} {doing} {}", self.timeout, self.address)
            }
            io::ErrorKind::UnexpectedEof => format!("{} closed the connection", self.address),
            _ => format!("I/O error {doing} {}: {e}", self.address),
        };
        self.poison(why)
    }

    /// Marks the connection unusable and shuts the socket down, so that the
    /// server drops whatever it was doing for it (rolling back an open
    /// transaction) instead of streaming into a connection nobody reads.
    fn poison(&mut self, why: String) -> Error {
        let _ = self.stream.shutdown(Shutdown::Both);
        self.broken = Some(why.clone());
        Error::Unavailable(why)
    }
}

/// EXEC_SQL and QUERY_SQL share a body: db id, SQL text, parameter tuple.
fn sql_request(kind: u8, db: u32, sql: &str, params: &[Value]) -> Result<Request, Error> {
    if params.len() > MAX_WIRE_PARAMS {
        let sql = sqltext::inline_params(sql, params)?;
        return Request::new(kind).u64(u64::from(db)).text("SQL", &sql);
    }
    Request::new(kind).u64(u64::from(db)).text("SQL", sql)?.params(params)
}

fn decode_nodes(body: &[u8]) -> Result<Vec<NodeInfo>, Error> {
    let mut r = Reader::new(body, "cluster");
    let n = r.u64()?;
    // Each node takes at least three words.
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= r.remaining() / (3 * WORD))
        .ok_or_else(|| malformed("cluster"))?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        let address = r.text()?;
        let role = match r.u64()? {
            0 => Role::Voter,
            1 => Role::StandBy,
            2 => Role::Spare,
            _ => return Err(malformed("cluster")),
        };
        nodes.push(NodeInfo { id, address, role });
    }
    Ok(nodes)
}
