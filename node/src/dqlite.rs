//! The few entry points of libdqlite (1.11, Debian 12) a node needs, and
//! SQLite's `sqlite3_auto_extension`, which puts orq into every connection
//! the node opens.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::net::TcpStream;
use std::os::fd::IntoRawFd;
use std::path::Path;

#[repr(C)]
struct RawNode {
    _private: [u8; 0],
}

#[link(name = "dqlite")]
extern "C" {
    fn dqlite_node_create(
        id: u64,
        address: *const c_char,
        data_dir: *const c_char,
        n: *mut *mut RawNode,
    ) -> c_int;
    fn dqlite_node_destroy(n: *mut RawNode);
    fn dqlite_node_set_bind_address(n: *mut RawNode, address: *const c_char) -> c_int;
    fn dqlite_node_set_network_latency_ms(n: *mut RawNode, milliseconds: c_uint) -> c_int;
    fn dqlite_node_set_connect_func(
        n: *mut RawNode,
        f: unsafe extern "C" fn(arg: *mut c_void, address: *const c_char, fd: *mut c_int) -> c_int,
        arg: *mut c_void,
    ) -> c_int;
    fn dqlite_node_start(n: *mut RawNode) -> c_int;
    fn dqlite_node_stop(n: *mut RawNode) -> c_int;
    fn dqlite_node_errmsg(n: *mut RawNode) -> *const c_char;
}

#[link(name = "sqlite3")]
extern "C" {
    fn sqlite3_auto_extension(init: Option<unsafe extern "C" fn()>) -> c_int;
}

/// Registers orq's init with the system's SQLite, so that every connection
/// opened from now on (dqlite's included) has orq's functions.
pub fn register_orq() -> Result<(), String> {
    // SAFETY: sqlite3_orq_init has the signature SQLite calls automatic
    // extensions with; SQLite's API casts it to `void (*)(void)` the same way.
    let init: unsafe extern "C" fn() = unsafe { std::mem::transmute(orq::sqlite3_orq_init as *const ()) };
    match unsafe { sqlite3_auto_extension(Some(init)) } {
        0 => Ok(()),
        rc => Err(format!("sqlite3_auto_extension failed ({rc})")),
    }
}

/// A started dqlite node; stopped and freed on drop.
pub struct Node {
    raw: *mut RawNode,
    started: bool,
}

impl Node {
    /// Creates a node with `id` at `address` (also where it listens),
    /// keeping its Raft log and snapshots in `data_dir`.
    pub fn create(id: u64, address: &str, data_dir: &Path, latency_ms: u32) -> Result<Node, String> {
        let c = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
        let (addr, dir) = (c(address)?, c(&data_dir.to_string_lossy())?);
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid C strings; dqlite copies them.
        if unsafe { dqlite_node_create(id, addr.as_ptr(), dir.as_ptr(), &mut raw) } != 0 || raw.is_null() {
            let why = if raw.is_null() { "out of memory".to_string() } else { errmsg(raw) };
            if !raw.is_null() {
                // SAFETY: created above and never started.
                unsafe { dqlite_node_destroy(raw) };
            }
            return Err(format!("cannot create the node: {why}"));
        }
        let node = Node { raw, started: false };
        // SAFETY: a live, unstarted node.
        if unsafe { dqlite_node_set_bind_address(raw, addr.as_ptr()) } != 0 {
            return Err(format!("cannot listen on {address}: {}", errmsg(raw)));
        }
        if latency_ms > 0 && unsafe { dqlite_node_set_network_latency_ms(raw, latency_ms) } != 0 {
            return Err(format!("bad --latency-ms {latency_ms}: {}", errmsg(raw)));
        }
        // SAFETY: a live, unstarted node; connect_to_peer ignores its argument.
        if unsafe { dqlite_node_set_connect_func(raw, connect_to_peer, std::ptr::null_mut()) } != 0 {
            return Err(format!("cannot set the connect function: {}", errmsg(raw)));
        }
        Ok(node)
    }

    /// Starts serving: Raft and the client protocol run on a thread of dqlite's.
    pub fn start(&mut self) -> Result<(), String> {
        // SAFETY: a live node, started once.
        if unsafe { dqlite_node_start(self.raw) } != 0 {
            return Err(format!("cannot start the node: {}", errmsg(self.raw)));
        }
        self.started = true;
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: the node is live; stop only once started, as dqlite requires.
        unsafe {
            if self.started {
                dqlite_node_stop(self.raw);
            }
            dqlite_node_destroy(self.raw);
        }
    }
}

/// raft's RAFT_NOCONNECTION: the peer could not be reached.
const RAFT_NOCONNECTION: c_int = 16;

/// How dqlite connects to a peer for Raft (on a thread of libuv's pool):
/// dqlite's own does a plain connect(), and Nagle's algorithm then holds
/// back a message behind the previous one's unacknowledged segment. Raft
/// streams carry data one way only, so the peer's ACK is a delayed one
/// (40 ms or more): a quarter of the commits of a 3-node cluster waited
/// 40-45 ms at --latency-ms 5 to 10. With TCP_NODELAY every commit takes
/// about 3 ms on loopback (docs/scale-out.md).
unsafe extern "C" fn connect_to_peer(_arg: *mut c_void, address: *const c_char, fd: *mut c_int) -> c_int {
    let connected = std::panic::catch_unwind(|| {
        // SAFETY: dqlite passes the peer's address as a C string.
        let address = unsafe { CStr::from_ptr(address) }.to_str().ok()?;
        let stream = TcpStream::connect(address).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(stream.into_raw_fd())
    });
    match connected {
        Ok(Some(socket)) => {
            // SAFETY: dqlite hands a place for the descriptor, which it then owns.
            unsafe { *fd = socket };
            0
        }
        _ => RAFT_NOCONNECTION,
    }
}

fn errmsg(raw: *mut RawNode) -> String {
    // SAFETY: dqlite returns a NUL-terminated message owned by the node, or NULL.
    let msg = unsafe { dqlite_node_errmsg(raw) };
    if msg.is_null() {
        return "unknown error".into();
    }
    unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use std::ffi::{c_int, CString};
    use std::net::TcpListener;

    fn connect(address: &str) -> (c_int, c_int) {
        let address = CString::new(address).unwrap();
        let mut fd: c_int = -1;
        // SAFETY: a C string and a place for the descriptor, as dqlite passes them.
        let rc = unsafe { super::connect_to_peer(std::ptr::null_mut(), address.as_ptr(), &mut fd) };
        (rc, fd)
    }

    #[test]
    fn a_peer_connection_sends_without_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (rc, fd) = connect(&listener.local_addr().unwrap().to_string());
        assert_eq!(rc, 0);
        let mut on: c_int = 0;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: fd is the socket just connected; on and len are ours.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut on as *mut c_int).cast(),
                &mut len,
            )
        };
        assert_eq!((got, on), (0, 1), "TCP_NODELAY is set");
        // SAFETY: the descriptor is this test's to close.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn an_unreachable_peer_is_no_connection() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        assert_eq!(connect(&free).0, super::RAFT_NOCONNECTION);
        assert_eq!(connect("not an address").0, super::RAFT_NOCONNECTION);
    }
}
