//! `orq-node`: one node of a dqlite cluster, with orq's SQL functions in
//! every connection it opens. Clients (`orq --cluster`, the `dqlite` shell,
//! any dqlite client) send SQL to the cluster's leader, which runs it with
//! orq inside and replicates the pages it writes to the other nodes by Raft.
//!
//! The first node of a cluster has id 1 and bootstraps it; every other node
//! starts with `--join` and asks the leader to add it as a voter. A node
//! started again with its data directory rejoins by itself.

mod dqlite;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use orq_cluster::{Cluster, Role};

/// How long a new node keeps asking the cluster to take it.
const JOIN_WAIT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(name = "orq-node", version, about = "A dqlite cluster node that runs orq (docs/scale-out.md)")]
struct Args {
    /// This node's id: 1 for the node that starts a new cluster, another
    /// number for each node that joins it; the same id on every restart
    #[arg(long, env = "ORQ_NODE_ID")]
    id: u64,
    /// Where other nodes and clients reach this node (host:port); it also listens there
    #[arg(long, env = "ORQ_NODE_ADDRESS")]
    address: String,
    /// Where the node keeps its Raft log and snapshots (created when missing)
    #[arg(long, env = "ORQ_NODE_DATA_DIR")]
    data_dir: PathBuf,
    /// Addresses of nodes of the cluster to join, comma-separated (any will
    /// do: the leader is found). Only the first start of a node joins
    #[arg(long, env = "ORQ_NODE_JOIN", value_name = "ADDRESSES")]
    join: Option<String>,
    /// The network's round trip in ms: Raft's heartbeat and election
    /// timeouts are multiples of it (dqlite's default: 20 ms)
    #[arg(long, default_value_t = 0)]
    latency_ms: u32,
    /// Print a systemd unit that runs this node with these options, and exit
    #[arg(long, value_name = "NAME")]
    systemd_unit: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Some(name) = &args.systemd_unit {
        print!("{}", unit(name, &args));
        return;
    }
    if let Err(e) = serve(&args) {
        eprintln!("orq-node: {e}");
        std::process::exit(1);
    }
}

fn serve(args: &Args) -> Result<(), String> {
    if args.id != 1 && args.join.is_none() && is_empty(&args.data_dir) {
        return Err("a new node other than id 1 needs --join ADDRESSES (id 1 starts a new cluster)".into());
    }
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let first_start = is_empty(&args.data_dir);
    // A client or a peer that goes away while the node writes to it must
    // not end the node (SIGPIPE's default): dqlite handles the EPIPE.
    // SAFETY: setting a signal disposition at start, before any thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Blocked before dqlite's thread starts, so that it inherits the mask
    // and the signals wait for sigwait below.
    let stops = block_stop_signals();
    dqlite::register_orq()?;
    let mut node = dqlite::Node::create(args.id, &args.address, &args.data_dir, args.latency_ms)?;
    node.start()?;
    if let (Some(peers), true) = (&args.join, first_start) {
        join(args.id, &args.address, peers)?;
    }
    println!("ready: node {} on {}", args.id, args.address);
    notify_systemd("READY=1");
    wait_for(&stops);
    notify_systemd("STOPPING=1");
    drop(node);
    Ok(())
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

/// Asks the cluster's leader to add this node and make it a voter, until
/// it has (a node that is a voter already is left as it is).
fn join(id: u64, address: &str, peers: &str) -> Result<(), String> {
    let peers: Vec<String> =
        peers.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect();
    let deadline = Instant::now() + JOIN_WAIT;
    loop {
        let mut cluster = Cluster::new(peers.clone(), "orq");
        match try_join(&mut cluster, id, address) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(format!("cannot join the cluster: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

fn try_join(cluster: &mut Cluster, id: u64, address: &str) -> Result<(), orq_cluster::Error> {
    let leader = cluster.admin()?;
    match leader.cluster()?.iter().find(|n| n.id == id) {
        Some(n) if n.role == Role::Voter => return Ok(()),
        Some(_) => {}
        None => leader.add(id, address)?,
    }
    leader.assign(id, Role::Voter)
}

fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: plain signal-mask calls on a local set, before any thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for(set: &libc::sigset_t) {
    let mut sig = 0;
    // SAFETY: waits for one of the blocked signals.
    unsafe { libc::sigwait(set, &mut sig) };
}

/// `sd_notify`: a datagram to $NOTIFY_SOCKET when systemd runs the node
/// as Type=notify (nothing otherwise).
fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    if let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = socket.send_to(state.as_bytes(), path);
    }
}

/// A systemd unit that runs this node with the same options.
fn unit(name: &str, args: &Args) -> String {
    let exe = std::env::current_exe().map_or_else(|_| "orq-node".into(), |p| p.display().to_string());
    let dir = std::fs::canonicalize(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let join = args.join.as_ref().map_or(String::new(), |j| format!(" --join {j}"));
    let latency =
        if args.latency_ms > 0 { format!(" --latency-ms {}", args.latency_ms) } else { String::new() };
    format!(
        "[Unit]\n\
         Description=orq cluster node {name} (dqlite node {id})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={exe} --id {id} --address {address} --data-dir {dir}{join}{latency}\n\
         Restart=always\n\
         RestartSec=1\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec=30\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        id = args.id,
        address = args.address,
        dir = dir.display(),
    )
}
