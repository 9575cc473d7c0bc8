//! The few entry points of libdqlite (1.11, Debian 12) a node needs, and
//! SQLite's `sqlite3_auto_extension`, which puts orq into every connection
//! the node opens.

use std::ffi::{c_char, c_int, c_uint, CStr, CString};
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

fn errmsg(raw: *mut RawNode) -> String {
    // SAFETY: dqlite returns a NUL-terminated message owned by the node, or NULL.
    let msg = unsafe { dqlite_node_errmsg(raw) };
    if msg.is_null() {
        return "unknown error".into();
    }
    unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
}
