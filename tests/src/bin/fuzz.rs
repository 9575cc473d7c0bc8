//! The fuzzer behind tests/tests/fuzz.rs (cargo-fuzz needs a nightly
//! toolchain; this is the same idea on stable): calls every orq SQL function
//! and table-valued function, with every arity, with arguments drawn from a
//! corpus of hostile values mixed with valid ones, and checks after each call
//! that an error names its function and that a failed call changed nothing.
//! It runs in a process of its own so that the test can see its stderr,
//! where a panic caught at the FFI boundary would print.
//!
//! usage: orq-test-fuzz SEED ITERATIONS (an odd seed: a file database)
//! Prints one line per property violated (at most a few per function) and
//! `calls N errors E` last; exits 1 when anything was violated.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use rusqlite::types::Value;
use rusqlite::Connection;

/// xorshift64*: small, deterministic, good enough to pick arguments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// A hostile value: a kind, then a value of that kind.
    fn hostile(&mut self) -> &'static str {
        let kind = HOSTILE[self.below(HOSTILE.len())];
        self.pick(kind)
    }
}

/// Values no caller should send, by kind; a call picks the kind first, so
/// that the rarer kinds (text that is not UTF-8) come up as often as any.
/// Hostile: numbers at the edges of their types.
const NUMBERS: &[&str] = &[
    "NULL",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "-0.0",
    "1e-308",
    "4.9e-324",
    "(1e308 * 10)",
    "(-1e308 * 10)",
];

/// Hostile: text that is empty, long, or holds NUL.
const TEXT: &[&str] =
    &["'nan'", "'inf'", "''", "' '", "printf('%.*c', 100000, 'x')", "char(0)", "'q' || char(0) || 'q'"];
/// Hostile: text that is not UTF-8, and blobs.
const BYTES: &[&str] = &[
    "CAST(x'ff' AS TEXT)",
    "CAST(x'7b226e223a2280ff227d' AS TEXT)",
    "CAST(x'71ff' AS TEXT)",
    "CAST(x'c0' AS TEXT)",
    "x''",
    "x'00ff'",
    "zeroblob(3)",
    "CAST('q' AS BLOB)",
];

/// Hostile: JSON that is broken or too deep.
const BAD_JSON: &[&str] = &[
    "'['",
    "'{\"a\":'",
    "'{\"a\":1,}'",
    "printf('%.*c%.*c', 5000, '[', 5000, ']')",
    "printf('%.*c1%.*c', 3000, '[', 3000, ']')",
];

/// Hostile: JSON of the wrong shape or with values out of range.
const WRONG_JSON: &[&str] = &[
    "'[]'",
    "'{}'",
    "'\"x\"'",
    "'null'",
    "'true'",
    "'1e999'",
    "'{\"unknown\":1}'",
    "'[[]]'",
    "'[{}]'",
    "'[null]'",
    "'[[1]]'",
    "'[[1,2,3,4]]'",
    "'{\"delay\":-1}'",
    "'{\"delay\":1e308}'",
    "'{\"delay\":\"1\"}'",
    "'{\"priority\":9223372036854775807}'",
    "'{\"priority\":1.5}'",
    "'{\"max_attempts\":0}'",
    "'{\"max_attempts\":-1}'",
    "'{\"lease\":-1}'",
    "'{\"lease\":1e308}'",
    "'{\"key\":\"\"}'",
    "'{\"key\":null}'",
    "'{\"run_at\":253402300799}'",
    "'{\"backoff\":{\"base\":1e308,\"factor\":1e308}}'",
    "'{\"tz\":\"Mars/Olympus\"}'",
    "'{\"jobs\":[]}'",
    "'{\"jobs\":[{\"key\":\"a\",\"queue\":\"q\",\"depends_on\":[\"a\"]}]}'",
    "'{\"jobs\":[{\"key\":\"a\",\"queue\":\"q\"},{\"key\":\"a\",\"queue\":\"q\"}]}'",
];

/// Hostile: names with odd characters, numbers as text, crons, metrics.
const NAMES: &[&str] = &[
    "'q/x'",
    "'*'",
    "'%'",
    "''''",
    "'\"'",
    "'\u{1F600}'",
    "'q\nq'",
    "printf('%.*c', 5000, 'q')",
    "' 1'",
    "'1.5'",
    "'0x10'",
    "'* * * * *'",
    "'0 0 31 2 *'",
    "'61 * * * *'",
    "'@every 0s'",
    "'@every 1000000000000h'",
    "'@yearly'",
    "'Mars/Olympus'",
    "'>'",
    "'=='",
    "'ready'",
    "'bogus_metric'",
];

/// Hostile: unix times at and past the ends of the calendar orq keeps.
const TIMES: &[&str] = &["253402300799", "253402214400", "253402300800", "-62135596800", "-62135596801"];

const HOSTILE: &[&[&str]] = &[NUMBERS, TEXT, BYTES, BAD_JSON, WRONG_JSON, NAMES, TIMES];

/// Values that get a call past its first checks, so the deeper ones are
/// reached: the queues, workers and jobs the database really holds.
const VALID: &[&str] = &[
    "'q'",
    "'q2'",
    "'[\"q\",\"q2\"]'",
    "'w1'",
    "'w2'",
    "'{}'",
    "'{\"n\":1}'",
    "'[{},{\"n\":2}]'",
    "'{\"priority\":5,\"max_attempts\":2}'",
    "'{\"delay\":0.5}'",
    "'{\"events\":false}'",
    "'{\"events\":true}'",
    "1",
    "2",
    "5",
    "0.5",
    "30",
    "(SELECT id FROM orq_jobs ORDER BY id DESC LIMIT 1)",
    "(SELECT id FROM orq_jobs WHERE state = 'running' LIMIT 1)",
    "(SELECT token FROM orq_jobs WHERE state = 'running' LIMIT 1)",
    "(SELECT token FROM orq_jobs WHERE token IS NOT NULL ORDER BY id DESC LIMIT 1)",
    "(SELECT json_group_array(json_array(id, token)) FROM orq_jobs WHERE state = 'running')",
    "(SELECT id FROM orq_workflows ORDER BY id DESC LIMIT 1)",
    "'{\"name\":\"wf\",\"jobs\":[{\"key\":\"a\",\"queue\":\"q\",\"payload\":{}},{\"key\":\"b\",\"queue\":\"q2\",\"depends_on\":[\"a\"]}]}'",
    "'* * * * *'",
    "'@every 30s'",
    "'nightly'",
    "'UTC'",
    "'depth'",
    "'>'",
    "'ok'",
];

/// Clocks a call may run at: the last day and second of year 9999, the
/// epoch (orq_clock takes no other).
const EDGES_OF_TIME: &[f64] = &[253_402_214_400.0, 253_402_300_799.0, 253_402_300_798.5, 0.0];

/// What can be called: a scalar function, or a table with hidden arguments.
struct Target {
    name: String,
    table: bool,
    max_args: usize,
    /// The numbers of arguments it takes (a probe found them), so that most
    /// calls get past the count.
    arities: Vec<usize>,
    columns: Vec<String>,
}

fn targets(conn: &Connection) -> Vec<Target> {
    let mut out = Vec::new();
    let mut s = conn
        .prepare(
            "SELECT DISTINCT name, narg FROM pragma_function_list
             WHERE name GLOB 'orq_*' OR name GLOB 'queue_*' ORDER BY name, narg",
        )
        .unwrap();
    let functions: Vec<(String, i64)> =
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    for (name, narg) in functions {
        // Variadic functions get one argument more than any documents.
        let max_args = if narg < 0 { 6 } else { narg as usize };
        let arities = (0..=max_args).filter(|&n| takes(conn, &name, n)).collect();
        out.push(Target { name, table: false, max_args, arities, columns: Vec::new() });
    }
    let mut s = conn
        .prepare(
            "SELECT name FROM pragma_module_list WHERE name GLOB 'orq_*' OR name GLOB 'queue_*' ORDER BY name",
        )
        .unwrap();
    let tables: Vec<String> = s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for name in tables {
        let mut s = conn.prepare("SELECT name, hidden FROM pragma_table_xinfo(?1)").unwrap();
        let columns: Vec<(String, i64)> =
            s.query_map([&name], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        let hidden = columns.iter().filter(|c| c.1 != 0).count();
        let columns = columns.into_iter().filter(|c| c.1 == 0).map(|c| c.0).collect();
        // One argument more than it takes: SQLite's own error.
        out.push(Target {
            name,
            table: true,
            max_args: hidden + 1,
            arities: (0..=hidden).collect(),
            columns,
        });
    }
    out
}

/// Whether function `name` accepts `n` arguments: called with NULLs (and no
/// wait), it fails with anything but a complaint about the count.
fn takes(conn: &Connection, name: &str, n: usize) -> bool {
    let args: Vec<&str> = (0..n).map(|i| if name == "queue_wait" && i == 1 { "0" } else { "NULL" }).collect();
    conn.execute_batch("SAVEPOINT probe").unwrap();
    let msg = run(conn, &format!("SELECT {name}({})", args.join(", ")));
    conn.execute_batch("ROLLBACK TO probe; RELEASE probe").unwrap();
    !msg.is_some_and(|m| m.contains(&format!("got {n} argument")))
}

/// One call of `target` as SQL, arguments picked by `rng`: some calls all
/// valid, some all hostile, most a mixture.
fn call(rng: &mut Rng, target: &Target) -> String {
    let n = if rng.chance(90) && !target.arities.is_empty() {
        target.arities[rng.below(target.arities.len())]
    } else {
        rng.below(target.max_args + 1)
    };
    let hostile = rng.pick(&["0", "10", "30", "60", "100"]).parse().unwrap();
    let args: Vec<&str> = (0..n)
        .map(|i| {
            // queue_wait's timeout stays short: a long one is a wait, not a bug.
            if target.name == "queue_wait" && i == 1 {
                return rng.pick(&["0", "-1", "0.001", "-1e308", "''", "x'00'", "'nan'"]);
            }
            if rng.chance(hostile) {
                rng.hostile()
            } else {
                rng.pick(VALID)
            }
        })
        .collect();
    let args = args.join(", ");
    if !target.table {
        return format!("SELECT {}({args})", target.name);
    }
    let from = if n == 0 { target.name.clone() } else { format!("{}({args})", target.name) };
    if !target.columns.is_empty() && rng.chance(50) {
        let column = &target.columns[rng.below(target.columns.len())];
        let op = rng.pick(&["=", "<", ">=", "IS", "!=", "LIKE", "IN (1, 'q')"]);
        let value = if op.starts_with("IN") { "" } else { rng.hostile() };
        return format!("SELECT * FROM {from} WHERE {column} {op} {value}");
    }
    format!("SELECT * FROM {from}")
}

/// Runs `sql` to the end; the error's message if it failed.
fn run(conn: &Connection, sql: &str) -> Option<String> {
    let result = conn.prepare(sql).and_then(|mut s| {
        let mut rows = s.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    });
    result.err().map(|e| e.to_string())
}

/// SQLite's errors about the rest of the statement (a WHERE on a table
/// function's rows), raised after the function did its work: they need not
/// name it, and what it did stays done (a claim has committed its leases
/// before SQLite filters the rows it returns; the leases run out as usual).
const STATEMENT_ERRORS: &[&str] = &["LIKE or GLOB pattern too complex"];

/// Whether an error message says which function failed: orq's own errors
/// start with its name; SQLite's about a call (too many arguments for a
/// table-valued function) contain it.
fn names(msg: &str, name: &str) -> bool {
    msg.contains(name)
}

/// A digest of every row of every orq table: equal digests, same data.
fn digest(conn: &Connection) -> u64 {
    let mut h = DefaultHasher::new();
    let mut s = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'orq_*' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for table in tables {
        table.hash(&mut h);
        let mut s = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = s.column_count();
        let mut rows = s.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..width {
                match row.get::<_, Value>(i).unwrap() {
                    Value::Null => 0u8.hash(&mut h),
                    Value::Integer(v) => v.hash(&mut h),
                    Value::Real(v) => v.to_bits().hash(&mut h),
                    Value::Text(v) => v.hash(&mut h),
                    Value::Blob(v) => v.hash(&mut h),
                }
            }
        }
    }
    h.finish()
}

/// What must hold between calls; the first that does not, if any.
/// `quiet`: the queues seen with their events off.
fn invariants(conn: &Connection, deep: bool, quiet: &mut BTreeSet<String>) -> Option<String> {
    let mut s = conn.prepare_cached("SELECT name FROM orq_queues WHERE events = 0").unwrap();
    quiet.extend(s.query_map([], |r| r.get::<_, Value>(0)).unwrap().map(|q| format!("{:?}", q.unwrap())));
    let checks: &[(&str, &str)] = &[
        ("SELECT count(*) FROM queue_jobs", ""),
        (
            "SELECT count(*) FROM orq_jobs WHERE state = 'running' AND (token IS NULL OR lease_until IS NULL OR worker IS NULL)",
            "0",
        ),
        ("SELECT count(*) FROM orq_jobs WHERE attempts < 0 OR leases < attempts", "0"),
    ];
    for (sql, expected) in checks {
        match conn.query_row(sql, [], |r| r.get::<_, Value>(0)) {
            Err(e) => return Some(format!("{sql}: {e}")),
            Ok(Value::Integer(v)) if !expected.is_empty() && v.to_string() != *expected => {
                return Some(format!("{sql} = {v}, expected {expected}"))
            }
            Ok(_) => {}
        }
    }
    if deep {
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        if ok != "ok" {
            return Some(format!("integrity_check: {ok}"));
        }
        // The audit trail is complete: replaying the events gives every job's
        // state, but for the queues that recorded none for a while.
        let mut s = conn
            .prepare(
                "SELECT id, queue FROM (SELECT id, queue, state, attempts FROM queue_jobs
                   EXCEPT SELECT id, queue, state, attempts FROM queue_replay)",
            )
            .unwrap();
        let differ: Vec<(i64, Value)> =
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        if let Some((id, _)) = differ.iter().find(|(_, queue)| !quiet.contains(&format!("{queue:?}"))) {
            return Some(format!("job {id} differs from queue_replay"));
        }
        let bad: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        if bad != 0 {
            return Some(format!("foreign_key_check: {bad} rows"));
        }
    }
    None
}

struct Report {
    /// Violations per function, a few of each printed.
    seen: BTreeMap<String, usize>,
    calls: usize,
    errors: usize,
}

impl Report {
    fn violated(&mut self, name: &str, what: &str, sql: &str) {
        let n = self.seen.entry(name.to_string()).or_default();
        *n += 1;
        if *n <= 3 {
            let sql: String = sql.chars().take(300).collect();
            let what: String = what.chars().take(300).collect();
            println!("VIOLATION {name}: {what}\n    {sql}");
        }
    }

    /// Runs one call and checks what a call must guarantee.
    fn call(&mut self, conn: &Connection, target: &Target, sql: &str) {
        self.calls += 1;
        let before = digest(conn);
        let Some(msg) = run(conn, sql) else { return };
        self.errors += 1;
        if STATEMENT_ERRORS.contains(&msg.as_str()) {
            return;
        }
        if std::env::var_os("ORQ_FUZZ_VERBOSE").is_some() {
            println!("error {}: {}", target.name, msg.chars().take(80).collect::<String>());
        }
        if !names(&msg, &target.name) {
            self.violated(&target.name, &format!("error does not name the function: {msg}"), sql);
        }
        if digest(conn) != before {
            self.violated(&target.name, &format!("a failed call changed the database: {msg}"), sql);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (seed, iterations) = (args[1].parse::<u64>().unwrap(), args[2].parse::<usize>().unwrap());
    // splitmix64 of the seed: neighbouring seeds, unrelated runs; never 0.
    let mut rng = Rng((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1);
    // Odd seeds run on a file database (WAL, queue_wait's inotify, file
    // sizes in queue_health), even ones in memory.
    let scratch = orq_tests::Scratch::new("fuzz");
    let conn = if seed % 2 == 1 {
        let conn = orq_tests::open(&scratch.path("fuzz.db"));
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF").unwrap();
        conn
    } else {
        orq_tests::memory()
    };
    // A fixed clock, moved on by the calls: the same seed, the same run.
    let mut clock = 1_700_000_000.0;
    conn.execute_batch(
        "SELECT orq_clock(1700000000);
         SELECT queue_enqueue('q', '{\"n\":1}'), queue_enqueue('q', '{\"n\":2}'), queue_enqueue('q2', '{}');
         SELECT * FROM queue_claim('w1', 1, 'q');
         SELECT queue_schedule('nightly', '* * * * *', 'q', '{}'), queue_worker_register('w1'),
                queue_alert('depth', 'q', 'ready', '>', 1),
                queue_workflow('{\"name\":\"wf\",\"jobs\":[{\"key\":\"a\",\"queue\":\"q2\"},{\"key\":\"b\",\"queue\":\"q\",\"depends_on\":[\"a\"]}]}');",
    )
    .unwrap();
    // The digest sees a change, or "changed nothing" would prove nothing.
    let before = digest(&conn);
    conn.execute_batch("SAVEPOINT selftest; SELECT queue_pause('q');").unwrap();
    assert_ne!(digest(&conn), before, "the digest misses a change");
    conn.execute_batch("ROLLBACK TO selftest; RELEASE selftest").unwrap();
    assert_eq!(digest(&conn), before, "the digest is not stable");
    let targets = targets(&conn);
    let mut quiet = BTreeSet::new();
    let mut report = Report { seen: BTreeMap::new(), calls: 0, errors: 0 };
    for i in 0..iterations {
        if rng.chance(25) {
            // A transaction of a few calls, rolled back: nothing stays.
            let before = digest(&conn);
            conn.execute_batch("BEGIN").unwrap();
            let mut last = String::new();
            for _ in 0..1 + rng.below(4) {
                let target = &targets[rng.below(targets.len())];
                last = call(&mut rng, target);
                report.call(&conn, target, &last);
            }
            if conn.is_autocommit() {
                report.violated("transaction", "a call ended the caller's transaction", &last);
            } else {
                conn.execute_batch("ROLLBACK").unwrap();
            }
            if digest(&conn) != before {
                report.violated("transaction", "ROLLBACK did not undo the calls", &last);
            }
        } else {
            let target = &targets[rng.below(targets.len())];
            let sql = call(&mut rng, target);
            report.call(&conn, target, &sql);
            if !conn.is_autocommit() {
                report.violated(&target.name, "left a transaction open", &sql);
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        // Now and then one call at the ends of time (a due schedule, a lease
        // or a backoff computed there), then back.
        clock += 0.25;
        let at = if rng.chance(3) { EDGES_OF_TIME[rng.below(EDGES_OF_TIME.len())] } else { clock };
        conn.query_row("SELECT orq_clock(?1)", [at], |_| Ok(())).unwrap();
        if let Some(what) = invariants(&conn, i % 200 == 199, &mut quiet) {
            report.violated("invariant", &what, "(after the call above)");
        }
    }
    if let Some(what) = invariants(&conn, true, &mut quiet) {
        report.violated("invariant", &what, "(at the end)");
    }
    println!("calls {} errors {}", report.calls, report.errors);
    // exit() runs no destructors: close and remove the scratch files first.
    drop(conn);
    drop(scratch);
    std::process::exit(if report.seen.is_empty() { 0 } else { 1 });
}
