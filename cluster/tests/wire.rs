//! Integration tests against real dqlite nodes (libdqlite 1.11): tests/node.c
//! is compiled once per run with `cc` and started as separate processes on
//! free loopback ports, with data directories under cargo's test temp dir.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use orq_cluster::{Cluster, Conn, Error, NodeInfo, Role, Value};

const T: Duration = Duration::from_secs(5);

/// Compiles a C host into cargo's test temp dir (once per run).
fn compile(source: &Path, name: &str, libs: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = dir.join(name);
    // Written under a unique name and renamed, so that concurrent runs never
    // execute a half-written binary.
    let tmp = dir.join(format!("{name}.{}", std::process::id()));
    let status =
        Command::new("cc").arg("-O1").arg("-o").arg(&tmp).arg(source).args(libs).status().expect("run cc");
    assert!(status.success(), "cc failed for {}", source.display());
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn node_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        compile(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node.c"), "dqlite-node", &["-ldqlite"])
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A dqlite node process; killed (and its data removed) when dropped.
struct Node {
    id: u64,
    address: String,
    dir: PathBuf,
    child: Child,
}

impl Node {
    fn start(id: u64) -> Node {
        let address = format!("127.0.0.1:{}", free_port());
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("node-{}-{address}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(node_binary());
        cmd.arg(id.to_string()).arg(&address).arg(&dir);
        Node::spawn(id, address, dir, cmd)
    }

    fn spawn(id: u64, address: String, dir: PathBuf, mut cmd: Command) -> Node {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start node");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("node {id} at {address} did not start: {line}{err}");
        }
        Node { id, address, dir, child }
    }

    /// SIGKILL: no chance to say goodbye to the cluster.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh one-node cluster, waited for until it is its own leader.
fn one_node() -> Node {
    let node = Node::start(1);
    let mut cluster = Cluster::new(vec![node.address.clone()], "probe");
    cluster.connect_leader(Instant::now() + T).expect("single node becomes leader");
    node
}

fn sql_error<T: std::fmt::Debug>(r: Result<T, Error>) -> (u64, String) {
    match r {
        Err(Error::Sql { code, message }) => (code, message),
        other => panic!("expected Error::Sql, got {other:?}"),
    }
}

fn count(cluster: &mut Cluster, sql: &str) -> i64 {
    match cluster.query(sql, &[]).unwrap().rows.as_slice() {
        [row] => match row.as_slice() {
            [Value::Integer(n)] => *n,
            other => panic!("not a count: {other:?}"),
        },
        other => panic!("not one row: {other:?}"),
    }
}

#[test]
fn handshake_and_leader_of_one_node() {
    let node = one_node();
    let mut conn = Conn::connect(&node.address, T).unwrap();
    assert_eq!(conn.leader().unwrap(), Some((1, node.address.clone())));
    let nodes = conn.cluster().unwrap();
    assert_eq!(nodes, vec![NodeInfo { id: 1, address: node.address.clone(), role: Role::Voter }]);
    assert_eq!(conn.open("db").unwrap(), 0);
    // One database per connection.
    assert_eq!(sql_error(conn.open("db")).0, 5);
    // No other voter to hand leadership to.
    sql_error(conn.transfer(0));

    let nobody = format!("127.0.0.1:{}", free_port());
    assert!(matches!(Conn::connect(&nobody, T), Err(Error::Unavailable(_))));
    let mut cluster = Cluster::new(vec![nobody, node.address.clone()], "db");
    cluster.exec("CREATE TABLE t (x)", &[]).unwrap();
    assert_eq!(cluster.leader_address(), Some(node.address.as_str()));
}

fn sample_values() -> Vec<Value> {
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 5).map(|i| (i * 7 % 251) as u8).collect();
    vec![
        Value::Null,
        Value::Integer(0),
        Value::Integer(-1),
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        Value::Real(0.1),
        Value::Real(-2.5e-300),
        Value::Real(f64::MAX),
        Value::Real(f64::MIN_POSITIVE),
        Value::Real(5e-324),
        Value::Real(f64::NEG_INFINITY),
        Value::Real(1.0),
        Value::Text(String::new()),
        Value::Text("héllo wörld — 日本語 🎉 ✓".into()),
        Value::Text("it's \"quoted\"; -- not a comment ?1 :x".into()),
        Value::Text("x".repeat(100_000)),
        Value::Blob(Vec::new()),
        Value::Blob(vec![0, 1, 2, 0xff]),
        Value::Blob(big),
    ]
}

/// Reals spread over the whole exponent range, from a fixed-seed generator.
fn sample_reals(n: usize) -> Vec<Value> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::new();
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if f.is_finite() {
            out.push(Value::Real(f));
        }
    }
    out
}

#[test]
fn every_value_type_roundtrips() {
    let node = one_node();
    let mut cluster = Cluster::new(vec![node.address.clone()], "values");
    cluster.exec("CREATE TABLE v (id INTEGER PRIMARY KEY, x)", &[]).unwrap();
    let values = sample_values();
    for (i, v) in values.iter().enumerate() {
        let (id, changes) = cluster.exec("INSERT INTO v (x) VALUES (?)", std::slice::from_ref(v)).unwrap();
        assert_eq!((id, changes), (i as i64 + 1, 1));
    }
    let rows = cluster.query("SELECT x FROM v ORDER BY id", &[]).unwrap();
    assert_eq!(rows.columns, vec!["x"]);
    assert_eq!(rows.rows, values.iter().map(|v| vec![v.clone()]).collect::<Vec<_>>());

    // Parameters come back as they went, typed.
    let got = cluster
        .query("SELECT ?, typeof(?), ? IS NULL", &[Value::Real(2.0), Value::Real(2.0), Value::Real(f64::NAN)])
        .unwrap();
    assert_eq!(got.rows, vec![vec![Value::Real(2.0), Value::Text("real".into()), Value::Integer(1)]]);

    // 255 parameters, the most one request carries, in one statement.
    let mut many: Vec<Value> = values.iter().cycle().take(200).cloned().collect();
    many.extend(sample_reals(55));
    let sql = format!("SELECT {}", vec!["?"; many.len()].join(", "));
    assert_eq!(cluster.query(&sql, &many).unwrap().rows, vec![many.clone()]);

    // 300 parameters: written into the SQL as exact literals.
    let mut many: Vec<Value> = values.iter().cycle().take(100).cloned().collect();
    many.extend(sample_reals(200));
    // (Short column names: SQLite names such a column after its expression,
    // here the literal, and 1.11 cannot send more than a page of names.)
    let columns: Vec<String> = (0..many.len()).map(|i| format!("? AS c{i}")).collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let rows = cluster.query(&sql, &many).unwrap();
    assert_eq!(rows.rows, vec![many.clone()]);
    let sql = format!("INSERT INTO v (x) VALUES {}", vec!["(?)"; many.len()].join(", "));
    assert_eq!(cluster.exec(&sql, &many).unwrap().1, 300);
    let rows = cluster
        .query("SELECT x FROM v WHERE id > ? ORDER BY id", &[Value::Integer(values.len() as i64)])
        .unwrap();
    assert_eq!(rows.rows, many.iter().map(|v| vec![v.clone()]).collect::<Vec<_>>());
    // Named and numbered parameters keep SQLite's numbering there too.
    let mut named: Vec<Value> = (1..=300).map(Value::Integer).collect();
    named[0] = Value::Text("first".into());
    let sql = format!("SELECT :a, ?3, :a, {}", vec!["?"; 297].join(", "));
    let mut expected = vec![named[0].clone(), Value::Integer(3), named[0].clone()];
    expected.extend((4..=300).map(Value::Integer));
    assert_eq!(cluster.query(&sql, &named).unwrap().rows, vec![expected]);
}

#[test]
fn a_large_result_comes_in_many_parts() {
    let node = one_node();
    let mut cluster = Cluster::new(vec![node.address.clone()], "rows");
    cluster.exec("CREATE TABLE n (i INTEGER, s TEXT)", &[]).unwrap();
    let sql = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50000) \
               INSERT INTO n SELECT i, 'row ' || i FROM c";
    assert_eq!(cluster.exec(sql, &[]).unwrap(), (50_000, 50_000));
    let rows = cluster.query("SELECT i, s FROM n ORDER BY i", &[]).unwrap();
    assert_eq!(rows.columns, vec!["i", "s"]);
    assert_eq!(rows.rows.len(), 50_000);
    for (k, row) in rows.rows.iter().enumerate() {
        let i = k as i64 + 1;
        assert_eq!(row, &vec![Value::Integer(i), Value::Text(format!("row {i}"))]);
    }
    // The connection is back at a message boundary.
    assert_eq!(count(&mut cluster, "SELECT count(*) FROM n"), 50_000);
    let empty = cluster.query("SELECT i FROM n WHERE i < 0", &[]).unwrap();
    assert_eq!((empty.columns, empty.rows.len()), (vec!["i".to_string()], 0));
}

#[test]
fn sql_errors_map_to_sql() {
    let node = one_node();
    let mut cluster = Cluster::new(vec![node.address.clone()], "errors");
    assert_eq!(sql_error(cluster.query("SELECT * FROM nosuch", &[])), (1, "no such table: nosuch".into()));
    assert_eq!(sql_error(cluster.exec("SELEKT 1", &[])), (1, "near \"SELEKT\": syntax error".into()));
    cluster.exec("CREATE TABLE u (k INTEGER UNIQUE)", &[]).unwrap();
    cluster.exec("INSERT INTO u VALUES (1)", &[]).unwrap();
    assert_eq!(
        sql_error(cluster.exec("INSERT INTO u VALUES (?)", &[Value::Integer(1)])),
        (2067, "UNIQUE constraint failed: u.k".into())
    );
    // A runtime error while stepping a query, in a later part of the result:
    // 1.11 garbles this failure (see message::decode_failure).
    cluster.exec("WITH RECURSIVE c(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) INSERT INTO u SELECT i FROM c", &[]).unwrap();
    let sql =
        "SELECT k, CASE WHEN k = 4000 THEN abs(-9223372036854775807 - 1) ELSE k END AS v FROM u ORDER BY k";
    assert_eq!(sql_error(cluster.query(sql, &[])), (1, "integer overflow".into()));
    assert_eq!(
        sql_error(cluster.query("SELECT abs(-9223372036854775807 - 1)", &[])),
        (1, "integer overflow".into())
    );
    // Too many parameters for the statement.
    assert_eq!(sql_error(cluster.query("SELECT ?", &[Value::Null, Value::Null])).0, 25);
    // A statement without columns is refused by QUERY_SQL, unrun.
    sql_error(cluster.query("CREATE TABLE never (x)", &[]));
    assert_eq!(count(&mut cluster, "SELECT count(*) FROM sqlite_master WHERE name = 'never'"), 0);
    // NUL cannot travel: refused before sending.
    assert_eq!(sql_error(cluster.exec("SELECT 1\0", &[])).0, 21);
    assert_eq!(sql_error(cluster.exec("SELECT ?", &[Value::Text("a\0b".into())])).0, 21);
    // Column names filling a page make 1.11 stream empty parts forever: the
    // statement never runs, and the connection is closed to stop it.
    let long = format!("SELECT 1 AS \"{}\"", "n".repeat(5000));
    assert_eq!(sql_error(cluster.query(&long, &[])).0, 18);
    assert_eq!(cluster.query("SELECT 1 AS short", &[]).unwrap().rows, vec![vec![Value::Integer(1)]]);
    // None of the others cost the connection.
    assert_eq!(cluster.leader_address(), Some(node.address.as_str()));
    assert_eq!(count(&mut cluster, "SELECT count(*) FROM u"), 5000);
}

#[test]
fn statements_and_transactions_on_one_connection() {
    let node = one_node();
    let addresses = vec![node.address.clone()];
    let mut a = Cluster::new(addresses.clone(), "tx");
    let mut b = Cluster::new(addresses, "tx");
    a.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, x)", &[]).unwrap();

    // Several statements in one string; trailing `;`/space/comments keep the counts.
    assert_eq!(
        a.exec("BEGIN; INSERT INTO t (x) VALUES (1); INSERT INTO t (x) VALUES (2), (3); COMMIT; ", &[])
            .unwrap(),
        (3, 2)
    );
    assert_eq!(a.exec("INSERT INTO t (x) VALUES (?); -- done\n", &[Value::Integer(4)]).unwrap(), (4, 1));

    // A transaction spans requests on its connection; other writers are told
    // the database is locked, readers see the last commit.
    a.exec("BEGIN", &[]).unwrap();
    a.exec("INSERT INTO t (x) VALUES (5)", &[]).unwrap();
    assert_eq!(sql_error(b.exec("INSERT INTO t (x) VALUES (6)", &[])), (5, "database is locked".into()));
    assert_eq!(count(&mut b, "SELECT count(*) FROM t"), 4);
    a.exec("COMMIT", &[]).unwrap();
    assert_eq!(count(&mut b, "SELECT count(*) FROM t"), 5);
    a.exec("BEGIN", &[]).unwrap();
    a.exec("DELETE FROM t", &[]).unwrap();
    a.exec("ROLLBACK", &[]).unwrap();
    assert_eq!(count(&mut b, "SELECT count(*) FROM t"), 5);

    // A transaction left open dies with its connection.
    let mut c = Cluster::new(vec![node.address.clone()], "tx");
    c.exec("BEGIN", &[]).unwrap();
    c.exec("DELETE FROM t", &[]).unwrap();
    drop(c);
    let deadline = Instant::now() + T;
    while b.exec("INSERT INTO t (x) VALUES (7)", &[]).is_err() {
        assert!(Instant::now() < deadline, "the dropped connection's transaction was not rolled back");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count(&mut b, "SELECT count(*) FROM t"), 6);

    // Statements before a failing one have run.
    let (code, _) = sql_error(a.exec("INSERT INTO t (x) VALUES (55); INSERT INTO nosuch VALUES (1)", &[]));
    assert_eq!(code, 1);
    assert_eq!(count(&mut a, "SELECT count(*) FROM t WHERE x = 55"), 1);
}

#[test]
fn a_timeout_poisons_the_connection() {
    let node = one_node();
    let mut cluster =
        Cluster::new(vec![node.address.clone()], "slow").with_timeout(Duration::from_millis(200));
    cluster.exec("CREATE TABLE t (x)", &[]).unwrap();
    let slow = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) SELECT count(*) FROM c";
    let t = Instant::now();
    match cluster.query(slow, &[]) {
        Err(Error::Unavailable(why)) => assert!(why.contains("timed out"), "{why}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(cluster.leader_address(), None);
    // The node serves again once its (single-threaded) loop is done with the statement.
    let mut cluster = cluster.with_timeout(T);
    cluster.connect_leader(Instant::now() + T).unwrap();
    assert_eq!(count(&mut cluster, "SELECT count(*) FROM t"), 0);
}

#[test]
fn three_nodes_join_fail_over_and_shrink() {
    let mut nodes: Vec<Node> = (1..=3).map(Node::start).collect();
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    let mut cluster = Cluster::new(addresses.clone(), "ha").with_timeout(Duration::from_secs(2));
    cluster.connect_leader(Instant::now() + T).unwrap();
    assert_eq!(cluster.leader_address(), Some(addresses[0].as_str()));

    // A node that is no member yet knows no leader.
    let mut outsider = Conn::connect(&addresses[1], T).unwrap();
    assert_eq!(outsider.leader().unwrap(), None);

    let admin = cluster.admin().unwrap();
    for node in &nodes[1..] {
        admin.add(node.id, &node.address).unwrap();
        admin.assign(node.id, Role::Voter).unwrap();
    }
    let voters = admin.cluster().unwrap();
    assert_eq!(voters.len(), 3);
    assert!(voters.iter().all(|n| n.role == Role::Voter), "{voters:?}");
    assert_eq!(voters.iter().map(|n| n.id).collect::<Vec<_>>(), vec![1, 2, 3]);

    // Followers refuse writes and membership changes with "not leader".
    let mut follower = Conn::connect(&addresses[2], T).unwrap();
    let deadline = Instant::now() + T;
    while follower.leader().unwrap().is_none() {
        assert!(Instant::now() < deadline, "node 3 never learned the leader");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(follower.leader().unwrap(), Some((1, addresses[0].clone())));
    let db = follower.open("ha").unwrap();
    assert!(matches!(follower.exec(db, "CREATE TABLE x (y)", &[]), Err(Error::Unavailable(_))));
    assert!(matches!(follower.add(9, "127.0.0.1:9"), Err(Error::Unavailable(_))));

    cluster.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)", &[]).unwrap();
    for i in 0..100 {
        cluster.exec("INSERT INTO t (x) VALUES (?)", &[Value::Text(format!("before {i}"))]).unwrap();
    }

    // Leadership transfer works with 1.11.
    cluster.admin().unwrap().transfer(2).unwrap();
    cluster.connect_leader(Instant::now() + T).unwrap();
    assert_eq!(cluster.leader_address(), Some(addresses[1].as_str()));
    cluster.exec("INSERT INTO t (x) VALUES ('after transfer')", &[]).unwrap();

    // Kill the leader: the request in flight (or the next) is Unavailable,
    // and a new leader is found within a few seconds.
    nodes[1].kill();
    let r = cluster.exec("INSERT INTO t (x) VALUES ('maybe')", &[]);
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    assert_eq!(cluster.leader_address(), None);
    let t = Instant::now();
    cluster.connect_leader(Instant::now() + Duration::from_secs(10)).unwrap();
    let failover = t.elapsed();
    assert!(failover < Duration::from_secs(5), "failover took {failover:?}");
    let new_leader = cluster.leader_address().unwrap().to_string();
    assert_ne!(new_leader, addresses[1]);
    eprintln!("failover to {new_leader} took {failover:?}");
    cluster.exec("INSERT INTO t (x) VALUES ('after failover')", &[]).unwrap();
    assert_eq!(count(&mut cluster, "SELECT count(*) FROM t WHERE x LIKE 'before %'"), 100);
    assert_eq!(
        count(&mut cluster, "SELECT count(*) FROM t WHERE x IN ('after transfer', 'after failover')"),
        2
    );

    // Remove the dead node.
    let admin = cluster.admin().unwrap();
    admin.remove(2).unwrap();
    let left = admin.cluster().unwrap();
    assert_eq!(left.iter().map(|n| n.id).collect::<Vec<_>>(), vec![1, 3]);
    cluster.exec("INSERT INTO t (x) VALUES ('two nodes')", &[]).unwrap();
}

/// The host orq ships (tests/cluster/dqlite_host.c) with orq's functions
/// registered, when the extension has been built.
#[test]
fn orq_functions_run_on_the_orq_host() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = root.join("target/release/liborq.so");
    if !lib.exists() {
        eprintln!("skipped: {} not built", lib.display());
        return;
    }
    let host = compile(
        &root.join("tests/cluster/dqlite_host.c"),
        "orq-dqlite-host",
        &["-ldqlite", "-lsqlite3", "-ldl"],
    );
    let address = format!("127.0.0.1:{}", free_port());
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("orq-host-{}-{address}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(host);
    cmd.arg(&lib).arg(&address).arg(&dir);
    let node = Node::spawn(1, address, dir, cmd);
    let mut cluster = Cluster::new(vec![node.address.clone()], "orq");
    cluster.connect_leader(Instant::now() + T).unwrap();
    let rows = cluster.query("SELECT orq_version()", &[]).unwrap();
    assert!(
        matches!(rows.rows.as_slice(), [row] if matches!(row.as_slice(), [Value::Text(v)] if !v.is_empty())),
        "{rows:?}"
    );
    // A write sent as a query in autocommit, which dqlite 1.11 would not
    // replicate (and whose frames failed an assertion at the next write):
    // orq refuses it before writing, and the node lives on.
    let refused = cluster.query("SELECT queue_enqueue('mail', '{}')", &[]);
    assert!(
        matches!(&refused, Err(orq_cluster::Error::Sql { message, .. }) if message.contains("inside the caller's transaction")),
        "{refused:?}"
    );
    // The same call inside the caller's transaction is replicated at COMMIT.
    cluster.exec("BEGIN IMMEDIATE", &[]).unwrap();
    let id = cluster.query("SELECT queue_enqueue('mail', '{}')", &[]).unwrap();
    cluster.exec("COMMIT", &[]).unwrap();
    assert_eq!(id.rows, vec![vec![Value::Integer(1)]]);
    let count = cluster.query("SELECT count(*) FROM queue_jobs", &[]).unwrap();
    assert_eq!(count.rows, vec![vec![Value::Integer(1)]]);
}
