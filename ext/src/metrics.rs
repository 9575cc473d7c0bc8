//! queue_metrics: each queue's numbers, computed at query time from the
//! tables alone (never from process state), so every process reading the
//! database sees the same numbers.
//!
//! Gauges are ranges of the per-state partial indexes (metrics_queues.sql).
//! Counters, rates and histograms come from one pass over the audit trail in
//! seq order (metrics_events.sql), folded here: the trail has every attempt
//! of every job with its time, where orq_jobs keeps only the last one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::types::{Value, ValueRef};
use rusqlite::{named_params, Connection};

use crate::error::Result;
use crate::sql;

/// Counters, "since the start of the record": events still in orq_events.
pub const COUNTERS: [&str; 7] = [
    "enqueued_total",
    "completed_total",
    "failed_total",
    "retried_total",
    "dead_total",
    "cancelled_total",
    "expired_total",
];
const ENQUEUED: usize = 0;
const COMPLETED: usize = 1;
const FAILED: usize = 2;
const RETRIED: usize = 3;
const DEAD: usize = 4;
const CANCELLED: usize = 5;
const EXPIRED: usize = 6;

/// Gauges read from the job and worker tables, in metrics_queues.sql's column order.
pub const GAUGES: [&str; 10] = [
    "ready",
    "scheduled",
    "running",
    "waiting",
    "paused",
    "oldest_ready_age_seconds",
    "workers_alive",
    "groups_running",
    "busiest_group_running",
    "held_back",
];

/// Gauges from the events of the last 1, 5 and 15 minutes.
pub const RATES: [&str; 6] = [
    "completed_per_second_1m",
    "completed_per_second_5m",
    "completed_per_second_15m",
    "failed_per_second_1m",
    "failed_per_second_5m",
    "failed_per_second_15m",
];
const WINDOWS_MS: [i64; 3] = [60_000, 300_000, 900_000];

pub const HISTOGRAMS: [&str; 2] = ["run_seconds", "wait_seconds"];
/// Upper bounds of the histogram buckets, in ms (+Inf follows). Durations
/// are whole milliseconds, so `le` compares exactly.
pub const BUCKETS_MS: [i64; 16] =
    [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

/// What each metric counts, in a sentence: `queue_metrics`' `help` column,
/// the HELP line of a Prometheus scrape.
pub fn help(metric: &str) -> &'static str {
    match metric {
        "enqueued_total" => "Jobs enqueued (counters count the events in the audit trail)",
        "completed_total" => "Jobs completed",
        "failed_total" => "Failed attempts (a lost lease counts as expired)",
        "retried_total" => "Jobs made ready again by queue_retry",
        "dead_total" => "Jobs that ended dead",
        "cancelled_total" => "Jobs cancelled",
        "expired_total" => "Leases that ran out",
        "ready" => "Jobs due now",
        "scheduled" => "Jobs ready but not yet due",
        "running" => "Jobs leased to a worker",
        "waiting" => "Jobs waiting for their parents",
        "paused" => "1 while the queue is paused",
        "oldest_ready_age_seconds" => "Seconds the oldest due job has waited",
        "workers_alive" => "Live workers that take jobs of this queue",
        "groups_running" => "Groups with jobs running",
        "busiest_group_running" => "The most jobs one group runs",
        "held_back" => "Due jobs that their queue's or group's limits hold back",
        "completed_per_second_1m" => "Jobs completed per second over the last minute",
        "completed_per_second_5m" => "Jobs completed per second over the last 5 minutes",
        "completed_per_second_15m" => "Jobs completed per second over the last 15 minutes",
        "failed_per_second_1m" => "Failed attempts per second over the last minute",
        "failed_per_second_5m" => "Failed attempts per second over the last 5 minutes",
        "failed_per_second_15m" => "Failed attempts per second over the last 15 minutes",
        "run_seconds" => "Seconds each attempt ran, claim to finish",
        "wait_seconds" => "Seconds jobs waited from due to claimed",
        // Not a row of queue_metrics: `orq serve` exports queue_alerts so.
        "alert_firing" => "orq alert rules (queue_alerts): 1 while firing",
        _ => "",
    }
}

/// Whether `metric` is a counter or gauge: what an alert rule can watch.
pub fn is_scalar(metric: &str) -> bool {
    COUNTERS.contains(&metric) || GAUGES.contains(&metric) || RATES.contains(&metric)
}

/// Whether `metric` needs the pass over the events.
pub fn needs_events(metric: &str) -> bool {
    COUNTERS.contains(&metric) || RATES.contains(&metric)
}

/// Every counter and gauge name, for error messages.
pub fn scalar_names() -> String {
    COUNTERS.iter().chain(GAUGES.iter()).chain(RATES.iter()).copied().collect::<Vec<_>>().join(", ")
}

/// Observations in fixed buckets, as Prometheus keeps them.
#[derive(Default, Clone, Debug)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last one is above every bound.
    buckets: [u64; BUCKETS_MS.len() + 1],
    sum_ms: i64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, ms: i64) {
        // A clock set back (orq_clock, or another host's) can make a
        // duration negative; it counts as zero.
        let ms = ms.max(0);
        let i = BUCKETS_MS.iter().position(|b| ms <= *b).unwrap_or(BUCKETS_MS.len());
        if let Some(b) = self.buckets.get_mut(i) {
            *b += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    /// (le in seconds, observations <= le) for every bucket, +Inf last.
    fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = BUCKETS_MS.iter().map(|b| *b as f64 / 1000.0).chain(std::iter::once(f64::INFINITY));
        bounds.zip(self.buckets.iter().scan(0u64, |total, n| {
            *total += n;
            Some(*total)
        }))
    }
}

/// What the events say about one queue.
#[derive(Default, Debug)]
struct Counts {
    counters: [u64; COUNTERS.len()],
    /// Completions and failures in each of WINDOWS_MS up to now.
    completed_in: [u64; WINDOWS_MS.len()],
    failed_in: [u64; WINDOWS_MS.len()],
    run: Histogram,
    wait: Histogram,
}

/// One queue's metrics.
pub struct QueueMetrics {
    pub queue: String,
    gauges: [f64; GAUGES.len()],
    counts: Counts,
}

/// Which parts to compute: alerts skip what their rules do not watch.
#[derive(Clone, Copy)]
pub struct Wanted {
    pub events: bool,
    pub histograms: bool,
}

pub const EVERYTHING: Wanted = Wanted { events: true, histograms: true };

impl QueueMetrics {
    /// A counter's or gauge's value (None for histograms and unknown names).
    pub fn value(&self, metric: &str) -> Option<f64> {
        if let Some(i) = COUNTERS.iter().position(|m| *m == metric) {
            return self.counts.counters.get(i).map(|n| *n as f64);
        }
        if let Some(i) = GAUGES.iter().position(|m| *m == metric) {
            return self.gauges.get(i).copied();
        }
        let i = RATES.iter().position(|m| *m == metric)?;
        let w = i % WINDOWS_MS.len();
        let window_s = *WINDOWS_MS.get(w)? as f64 / 1000.0;
        let n = if i < WINDOWS_MS.len() {
            self.counts.completed_in.get(w)?
        } else {
            self.counts.failed_in.get(w)?
        };
        Some(*n as f64 / window_s)
    }

    /// The rows of `queue_metrics`: queue, metric, kind, le, value, help.
    pub fn rows(&self, out: &mut Vec<Vec<Value>>) {
        let row = |metric: &str, kind: &str, le: Option<f64>, value: f64| {
            vec![
                Value::Text(self.queue.clone()),
                Value::Text(metric.to_string()),
                Value::Text(kind.to_string()),
                le.map_or(Value::Null, Value::Real),
                Value::Real(value),
                Value::Text(help(metric).to_string()),
            ]
        };
        for m in COUNTERS {
            out.push(row(m, "counter", None, self.value(m).unwrap_or(0.0)));
        }
        for m in GAUGES.iter().chain(RATES.iter()) {
            out.push(row(m, "gauge", None, self.value(m).unwrap_or(0.0)));
        }
        for (name, h) in HISTOGRAMS.iter().zip([&self.counts.run, &self.counts.wait]) {
            for (le, n) in h.cumulative() {
                out.push(row(name, "histogram", Some(le), n as f64));
            }
            out.push(row(name, "histogram_sum", None, h.sum_ms as f64 / 1000.0));
            out.push(row(name, "histogram_count", None, h.count as f64));
        }
    }
}

/// The metrics of `queue` (None: every queue), in queue name order.
pub fn collect(
    conn: &Connection,
    now: i64,
    queue: Option<&str>,
    wanted: Wanted,
) -> Result<Vec<QueueMetrics>> {
    let mut out = gauges(conn, now, queue)?;
    if wanted.events && !out.is_empty() {
        let mut counts = fold_events(conn, now, queue, wanted.histograms)?;
        for m in &mut out {
            if let Some(c) = counts.remove(m.queue.as_bytes()) {
                m.counts = c;
            }
        }
    }
    Ok(out)
}

fn gauges(conn: &Connection, now: i64, queue: Option<&str>) -> Result<Vec<QueueMetrics>> {
    let mut stmt = conn.prepare_cached(&sql::METRICS_QUEUES)?;
    let rows = stmt.query_map(named_params! {":now": now, ":queue": queue}, |r| {
        let mut gauges = [0.0; GAUGES.len()];
        for (i, g) in gauges.iter_mut().enumerate() {
            *g = r.get::<_, Option<f64>>(i + 1)?.unwrap_or(0.0);
        }
        Ok(QueueMetrics { queue: r.get(0)?, gauges, counts: Counts::default() })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Job ids hashed by one multiplication: the pass does a map operation or
/// two per event, and SipHash (the default, made for untrusted keys) was a
/// tenth of its time.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, n: i64) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type JobMap = HashMap<i64, i64, BuildHasherDefault<IdHasher>>;

/// Jobs between two events that measure a duration.
#[derive(Default)]
struct Open {
    /// Claimed jobs: when the claim was (for run_seconds).
    claimed_at: JobMap,
    /// Jobs never claimed: when they became due (for wait_seconds).
    due_at: JobMap,
}

/// One pass over the events, oldest first: counts per queue (keyed by the
/// queue name's bytes). Memory: the jobs running, plus (for histograms) the
/// jobs not yet claimed once. Columns are read only where needed: every
/// read of a column takes the connection's mutex in a threadsafe SQLite.
fn fold_events(
    conn: &Connection,
    now: i64,
    queue: Option<&str>,
    histograms: bool,
) -> Result<HashMap<Vec<u8>, Counts>> {
    let mut queues: Vec<(Vec<u8>, Counts)> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut last = usize::MAX;
    let mut open = Open::default();
    let mut stmt = conn.prepare_cached(&sql::METRICS_EVENTS)?;
    let mut rows = stmt.query(named_params! {":queue": queue})?;
    while let Some(r) = rows.next()? {
        let (ValueRef::Text(q), ValueRef::Text(ty), ValueRef::Integer(at), ValueRef::Integer(job)) =
            (r.get_ref(0)?, r.get_ref(1)?, r.get_ref(2)?, r.get_ref(3)?)
        else {
            continue;
        };
        // Events of one queue often come in runs: try the last one first.
        if queues.get(last).is_none_or(|(name, _)| name.as_slice() != q) {
            last = match index.get(q) {
                Some(i) => *i,
                None => {
                    queues.push((q.to_vec(), Counts::default()));
                    index.insert(q.to_vec(), queues.len() - 1);
                    queues.len() - 1
                }
            };
        }
        let Some((_, c)) = queues.get_mut(last) else { continue };
        let detail = match ty {
            b"enqueued" => match r.get_ref(4)? {
                ValueRef::Text(t) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let failed = matches!(ty, b"failed" | b"dead") && r.get_ref(5)? == ValueRef::Integer(1);
        fold(c, &mut open, &Event { ty, at, job, detail, failed }, now, histograms);
    }
    Ok(queues.into_iter().collect())
}

struct Event<'a> {
    /// The event's type; 'enqueued_cancelled' for a job born cancelled.
    ty: &'a [u8],
    at: i64,
    job: i64,
    /// The detail JSON of 'enqueued' events (the others' is not read).
    detail: Option<&'a [u8]>,
    /// Whether the event is a failed attempt (sql/failed_attempt.sql).
    failed: bool,
}

/// What one event adds. Every attempt ends as exactly one of completed,
/// failed (queue_fail), expired (lease lost), released or cancelled; a last
/// attempt that fails or is lost is recorded as 'dead' instead, and counts as
/// a failure or a lost lease as sql/failed_attempt.sql tells them apart.
fn fold(c: &mut Counts, open: &mut Open, e: &Event<'_>, now: i64, histograms: bool) {
    let in_window = |counts: &mut [u64; WINDOWS_MS.len()]| {
        for (n, w) in counts.iter_mut().zip(WINDOWS_MS) {
            if e.at > now - w && e.at <= now {
                *n += 1;
            }
        }
    };
    match e.ty {
        b"enqueued" => {
            c.counters[ENQUEUED] += 1;
            if let (true, Some(due)) = (histograms, e.detail.and_then(run_at_ms)) {
                open.due_at.insert(e.job, due);
            }
        }
        // A job whose parent already failed is born cancelled.
        b"enqueued_cancelled" => {
            c.counters[ENQUEUED] += 1;
            c.counters[CANCELLED] += 1;
        }
        // A waiting job is due when its last parent completes, if that is later.
        b"unblocked" => {
            if let Some(due) = open.due_at.get_mut(&e.job) {
                *due = (*due).max(e.at);
            }
        }
        b"claimed" if histograms => {
            if let Some(due) = open.due_at.remove(&e.job) {
                c.wait.observe(e.at.saturating_sub(due));
            }
            open.claimed_at.insert(e.job, e.at);
        }
        b"completed" => {
            c.counters[COMPLETED] += 1;
            in_window(&mut c.completed_in);
            ran(c, open, e);
        }
        b"failed" | b"dead" => {
            if e.ty == b"dead" {
                c.counters[DEAD] += 1;
            }
            if e.failed {
                c.counters[FAILED] += 1;
                in_window(&mut c.failed_in);
                ran(c, open, e);
            } else {
                c.counters[EXPIRED] += 1;
                open.claimed_at.remove(&e.job);
            }
        }
        b"expired" => {
            c.counters[EXPIRED] += 1;
            open.claimed_at.remove(&e.job);
        }
        b"released" => {
            open.claimed_at.remove(&e.job);
        }
        b"cancelled" => {
            c.counters[CANCELLED] += 1;
            open.claimed_at.remove(&e.job);
            open.due_at.remove(&e.job);
        }
        b"retried" => c.counters[RETRIED] += 1,
        _ => {}
    }
}

/// An attempt that its worker finished (completed or failed): its run time.
fn ran(c: &mut Counts, open: &mut Open, e: &Event<'_>) {
    if let Some(claimed) = open.claimed_at.remove(&e.job) {
        c.run.observe(e.at.saturating_sub(claimed));
    }
}

/// An enqueued job's due time, in ms, from its event's detail. The trigger
/// writes `{"run_at":<seconds>,...}`: read that prefix directly (100,000
/// json_extract calls cost as much as the rest of the pass); any other
/// shape is parsed as JSON.
fn run_at_ms(detail: &[u8]) -> Option<i64> {
    let seconds = match detail.strip_prefix(br#"{"run_at":"#) {
        Some(rest) => {
            let end = rest.iter().position(|b| *b == b',' || *b == b'}')?;
            std::str::from_utf8(rest.get(..end)?).ok()?.parse::<f64>().ok()?
        }
        None => serde_json::from_slice::<serde_json::Value>(detail).ok()?.get("run_at")?.as_f64()?,
    };
    seconds.is_finite().then(|| (seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_says_what_it_counts() {
        for m in COUNTERS.iter().chain(&GAUGES).chain(&RATES).chain(&HISTOGRAMS) {
            assert!(!help(m).is_empty(), "{m} has no help text");
        }
    }

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let mut h = Histogram::default();
        for ms in [0, 5, 6, 1_000, 3_600_000, 3_600_001, -3] {
            h.observe(ms);
        }
        let c: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(c.len(), 17);
        assert_eq!(c[0], (0.005, 3)); // 0, 5 and -3 (as 0)
        assert_eq!(c[1], (0.01, 4));
        assert_eq!(c[7], (1.0, 5));
        assert_eq!(c[15], (3600.0, 6));
        assert_eq!(c[16], (f64::INFINITY, 7));
        assert_eq!(h.count, 7);
        assert_eq!(h.sum_ms, 5 + 6 + 1_000 + 3_600_000 + 3_600_001);
    }

    #[test]
    fn due_times_are_read_from_the_enqueued_detail() {
        assert_eq!(run_at_ms(br#"{"run_at":1800000000.566,"priority":0}"#), Some(1_800_000_000_566));
        assert_eq!(run_at_ms(br#"{"run_at":1000}"#), Some(1_000_000));
        assert_eq!(run_at_ms(br#"{"priority":0,"run_at":2.5}"#), Some(2_500));
        assert_eq!(run_at_ms(br#"{"run_at":"x"}"#), None);
        assert_eq!(run_at_ms(b"not json"), None);
    }
}
