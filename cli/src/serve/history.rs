//! The overview's charts: jobs finished per minute and queue depth over the
//! last hour, from the audit trail (`queue_events`).
//!
//! Events are read once: each update aggregates only those after the last
//! one seen (a seq range, answered from the table's primary key), per
//! (minute, queue). Depth is not stored anywhere, so it is reconstructed
//! backwards: the depth at the end of a minute is today's count minus the
//! net arrivals of every later minute. Queues whose events are switched
//! off (`queue_configure`) show a flat depth and no throughput.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{json, Value};

use crate::exit::{Failure, Result};
use crate::output::cell;
use crate::store::Store;

const MINUTES: i64 = 60;
/// Events read per statement, and statements per update: a backlog of
/// events (a first start on a busy database) is caught up over a few
/// updates instead of stalling one.
const BATCH: i64 = 20_000;
const BATCHES_PER_UPDATE: usize = 10;

/// Per (minute, queue): event counts, and the net change in jobs waiting
/// to run (states `waiting` and `ready`). A failed attempt is what the
/// extension says it is, the same rule as `queue_metrics`' failed_total.
static AGGREGATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
SELECT CAST(at / 60 AS INTEGER), queue,
       sum(type = 'completed'),
       sum({failed}),
       sum((to_state = 'ready' OR to_state = 'waiting')
           - (coalesce(from_state, '') = 'ready' OR coalesce(from_state, '') = 'waiting')),
       max(seq), count(*)
FROM (SELECT seq, at, queue, type, from_state, to_state, detail FROM queue_events
      WHERE seq >= ?1 ORDER BY seq LIMIT ?2)
GROUP BY 1, 2",
        failed = orq::FAILED_ATTEMPT
    )
});

#[derive(Default, Clone, Copy)]
struct Bucket {
    done: i64,
    failed: i64,
    delta: i64,
}

#[derive(Default)]
pub struct History {
    /// The first event not yet counted; None before the first update.
    next_seq: Option<i64>,
    minutes: BTreeMap<i64, BTreeMap<String, Bucket>>,
}

impl History {
    /// Counts the events written since the last update.
    pub fn update(&mut self, store: &Store, now: f64) -> Result<()> {
        let now_min = (now / 60.0).floor() as i64;
        let first_min = now_min - MINUTES + 1;
        let mut next = match self.next_seq {
            Some(s) => s,
            None => first_seq_at_or_after(store, (first_min * 60) as f64)?,
        };
        for _ in 0..BATCHES_PER_UPDATE {
            let mut seen = 0i64;
            for r in store.read(&AGGREGATE, &[next.into(), BATCH.into()])?.rows {
                let minute: i64 = cell(&r[0])?;
                seen += cell::<i64>(&r[6])?;
                next = next.max(cell::<i64>(&r[5])? + 1);
                if minute < first_min {
                    continue;
                }
                let b = self.minutes.entry(minute).or_default().entry(cell(&r[1])?).or_default();
                b.done += cell::<i64>(&r[2])?;
                b.failed += cell::<i64>(&r[3])?;
                b.delta += cell::<i64>(&r[4])?;
            }
            if seen < BATCH {
                break;
            }
        }
        self.next_seq = Some(next);
        self.minutes.retain(|m, _| *m >= first_min);
        Ok(())
    }

    /// The last hour, minute by minute, per queue and in total. `pending`
    /// is each queue's count of jobs waiting to run now.
    pub fn series(&self, now: f64, pending: &BTreeMap<String, i64>) -> Value {
        let now_min = (now / 60.0).floor() as i64;
        let first_min = now_min - MINUTES + 1;
        let mut names: Vec<&String> = pending.keys().collect();
        for per_queue in self.minutes.values() {
            names.extend(per_queue.keys().filter(|q| !pending.contains_key(*q)));
        }
        names.sort();
        names.dedup();
        let n = MINUTES as usize;
        let mut total = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
        let mut queues = serde_json::Map::new();
        for q in names {
            let (mut done, mut failed, mut depth) = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
            let mut level = pending.get(q).copied().unwrap_or(0);
            for i in (0..n).rev() {
                let b = self
                    .minutes
                    .get(&(first_min + i as i64))
                    .and_then(|m| m.get(q))
                    .copied()
                    .unwrap_or_default();
                done[i] = b.done;
                failed[i] = b.failed;
                depth[i] = level.max(0);
                level -= b.delta;
            }
            for i in 0..n {
                total.0[i] += done[i];
                total.1[i] += failed[i];
                total.2[i] += depth[i];
            }
            queues.insert(q.clone(), json!({ "done": done, "failed": failed, "depth": depth }));
        }
        json!({
            "start": first_min * 60,
            "step": 60,
            "total": { "done": total.0, "failed": total.1, "depth": total.2 },
            "queues": queues,
        })
    }
}

/// The first event at or after unix time `t`: a binary search over seq
/// (each probe one primary-key seek), since `at` has no index of its own
/// and grows with seq.
fn first_seq_at_or_after(store: &Store, t: f64) -> Result<i64> {
    let bound = |sql: &str| -> Result<Option<i64>> {
        store.read(sql, &[])?.rows.first().map(|r| cell(&r[0])).transpose()
    };
    let Some(first) = bound("SELECT seq FROM queue_events ORDER BY seq LIMIT 1")? else {
        return Ok(1);
    };
    let last = bound("SELECT seq FROM queue_events ORDER BY seq DESC LIMIT 1")?.unwrap_or(first);
    let (mut lo, mut hi) = (first, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let probe = store
            .read("SELECT seq, at FROM queue_events WHERE seq >= ?1 ORDER BY seq LIMIT 1", &[mid.into()])?;
        let found = probe.rows.first().map(|r| Ok::<_, Failure>((cell::<i64>(&r[0])?, cell::<f64>(&r[1])?)));
        match found.transpose()? {
            Some((seq, at)) if at < t => lo = seq + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}
