//! A std-only client of the dqlite wire protocol, as served by libdqlite 1.11
//! (protocol version 1): used by the `orq` CLI to run SQL on a dqlite cluster
//! and by `orq-node` to join nodes.
//!
//! - [`Conn`] is one connection to one node and speaks the requests;
//! - [`Cluster`] finds the leader among a list of addresses and keeps a
//!   connection to it, dropping it whenever its outcome becomes uncertain.
//!
//! Errors come in two kinds that matter to retrying: [`Error::Sql`] (the
//! server refused the request; nothing happened) and [`Error::Unavailable`]
//! (the outcome is unknown: connection lost, timeout, leadership changed).
//!
//! What libdqlite 1.11 does that callers should know (all seen in tests):
//! - SQLite runs on the node's single event-loop thread. A long statement
//!   stalls the whole node, raft heartbeats included: the other voters elect
//!   a new leader after the election timeout, and a long write then fails with
//!   "leadership lost", yet may still have committed (outcome unknown). On a
//!   lone node, every client waits until the statement is done.
//! - A host process must ignore SIGPIPE: the node writes to sockets with plain
//!   write(2), so a client closing a connection while rows are streamed to it,
//!   or a peer node dying, kills the host otherwise.
//! - A query whose column names fill a memory page (4096 bytes) never runs:
//!   the server sends empty parts forever (see [`Conn::query`]).

mod cluster;
mod conn;
mod error;
mod message;
mod sqltext;

pub use cluster::Cluster;
pub use conn::{Conn, NodeInfo, Role};
pub use error::Error;
pub use message::{Rows, Value};
