//! Alert rules over queue_metrics, kept in orq_alerts. A rule holds while
//! its metric crosses its threshold; `queue_alerts_check` moves it
//! ok -> pending -> firing once it has held for `for_ms` (at once when 0),
//! and back to ok when it stops holding. Nothing runs by itself: whoever
//! calls the check (a cron job, `orq serve`) gets the rules that started
//! firing in that call, each exactly once however many processes check.

use rusqlite::{named_params, Connection};
use serde_json::Value as Json;

use crate::clock::ms_to_secs;
use crate::error::{invalid, Result};
use crate::metrics::{self, QueueMetrics, Wanted};
use crate::options::check_queue_name;
use crate::sql;

pub const OPS: [&str; 6] = [">", ">=", "<", "<=", "=", "!="];
const MAX_NAME_CHARS: usize = 128;

/// A rule as `queue_alert` defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub queue: Option<String>,
    pub metric: String,
    pub op: String,
    pub threshold: f64,
    pub for_ms: i64,
}

impl Rule {
    /// Checks everything but `for_ms` (checked where seconds become ms).
    pub fn check(&self) -> Result<()> {
        let chars = self.name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || self.name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters without control characters, got '{}'",
                crate::options::excerpt(&self.name)
            )));
        }
        if let Some(q) = &self.queue {
            check_queue_name(q)?;
        }
        if !metrics::is_scalar(&self.metric) {
            return Err(invalid(format!(
                "unknown metric '{}': a rule watches a counter or gauge of queue_metrics ({})",
                crate::options::excerpt(&self.metric),
                metrics::scalar_names()
            )));
        }
        if !OPS.contains(&self.op.as_str()) {
            return Err(invalid(format!(
                "op must be one of {}, got '{}'",
                OPS.join(" "),
                crate::options::excerpt(&self.op)
            )));
        }
        if !self.threshold.is_finite() {
            return Err(invalid(format!("threshold must be a finite number, got {}", self.threshold)));
        }
        Ok(())
    }

    pub fn save(&self, conn: &Connection, now: i64) -> Result<()> {
        conn.prepare_cached(sql::ALERT_UPSERT)?.execute(named_params! {
            ":name": self.name, ":queue": self.queue, ":metric": self.metric, ":op": self.op,
            ":threshold": self.threshold, ":for_ms": self.for_ms, ":now": now,
        })?;
        Ok(())
    }

    fn crosses(&self, value: f64) -> bool {
        let t = self.threshold;
        match self.op.as_str() {
            ">" => value > t,
            ">=" => value >= t,
            "<" => value < t,
            "<=" => value <= t,
            "=" => value == t,
            "!=" => value != t,
            _ => false,
        }
    }

    /// Whether the rule holds, and the value it shows. Over every queue it
    /// holds when any queue crosses; the value shown is the largest for >
    /// and >=, the smallest for < and <=, else the first crossing one (or
    /// the first). A queue that does not exist has no value: no rule holds.
    fn evaluate(&self, all: &[QueueMetrics]) -> (bool, Option<f64>) {
        let values: Vec<f64> = all
            .iter()
            .filter(|m| self.queue.as_deref().is_none_or(|q| q == m.queue))
            .filter_map(|m| m.value(&self.metric))
            .collect();
        let holds = values.iter().any(|v| self.crosses(*v));
        let shown = match self.op.as_str() {
            ">" | ">=" => values.iter().copied().reduce(f64::max),
            "<" | "<=" => values.iter().copied().reduce(f64::min),
            _ => values.iter().copied().find(|v| self.crosses(*v)).or(values.first().copied()),
        };
        (holds, shown)
    }
}

pub fn remove(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::ALERT_DELETE)?.execute(named_params! {":name": name})? > 0)
}

/// A rule with its stored state.
struct Stored {
    rule: Rule,
    state: String,
    since: Option<i64>,
    fired_at: Option<i64>,
}

fn stored(conn: &Connection) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(sql::ALERT_RULES)?;
    let rows = stmt.query_map([], |r| {
        Ok(Stored {
            rule: Rule {
                name: r.get(0)?,
                queue: r.get(1)?,
                metric: r.get(2)?,
                op: r.get(3)?,
                threshold: r.get(4)?,
                for_ms: r.get(5)?,
            },
            state: r.get(6)?,
            since: r.get(7)?,
            fired_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One rule's evaluation, made before the write.
pub struct Evaluation {
    rule: Rule,
    holds: bool,
    value: Option<f64>,
}

/// Reads the rules and evaluates each against queue_metrics at `now`
/// (computing only the parts the rules watch). A read: the write lock is
/// not held while metrics are computed.
pub fn evaluate(conn: &Connection, now: i64) -> Result<Vec<Evaluation>> {
    let rules: Vec<Rule> = stored(conn)?.into_iter().map(|s| s.rule).collect();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = Wanted { events: rules.iter().any(|r| metrics::needs_events(&r.metric)), histograms: false };
    // Rules about one queue only need that queue's numbers.
    let one_queue = match rules.first().and_then(|r| r.queue.as_deref()) {
        Some(q) if rules.iter().all(|r| r.queue.as_deref() == Some(q)) => Some(q),
        _ => None,
    };
    let all = metrics::collect(conn, now, one_queue, wanted)?;
    Ok(rules
        .into_iter()
        .map(|rule| {
            let (holds, value) = rule.evaluate(&all);
            Evaluation { rule, holds, value }
        })
        .collect())
}

/// Moves each evaluated rule to its next state, inside the write. Each move
/// starts from the state stored now, not the one read before: of two
/// processes checking at once, one reports a rule that starts firing. A rule
/// replaced or removed since the evaluation is left alone. Returns the rules
/// that started firing, as a JSON array.
pub fn apply(conn: &Connection, now: i64, evaluations: &[Evaluation]) -> Result<String> {
    let current = stored(conn)?;
    let mut fired = Vec::new();
    let mut update = conn.prepare_cached(sql::ALERT_UPDATE)?;
    for e in evaluations {
        let Some(s) = current.iter().find(|s| s.rule == e.rule) else { continue };
        let (state, since, fired_at) = if !e.holds {
            ("ok", None, s.fired_at)
        } else {
            let since = if s.state == "ok" { now } else { s.since.unwrap_or(now) };
            if s.state == "firing" {
                ("firing", Some(since), s.fired_at)
            } else if now.saturating_sub(since) >= e.rule.for_ms {
                fired.push(fired_json(&e.rule, e.value, since));
                ("firing", Some(since), Some(now))
            } else {
                ("pending", Some(since), s.fired_at)
            }
        };
        update.execute(named_params! {
            ":name": e.rule.name, ":state": state, ":since": since, ":value": e.value, ":fired_at": fired_at,
        })?;
    }
    Ok(format!("[{}]", fired.join(",")))
}

fn fired_json(rule: &Rule, value: Option<f64>, since: i64) -> String {
    format!(
        r#"{{"name":{},"queue":{},"metric":{},"op":{},"threshold":{},"value":{},"since":{}}}"#,
        Json::from(rule.name.as_str()),
        rule.queue.as_deref().map_or(Json::Null, Json::from),
        Json::from(rule.metric.as_str()),
        Json::from(rule.op.as_str()),
        Json::from(rule.threshold),
        value.map_or(Json::Null, Json::from),
        Json::from(ms_to_secs(since)),
    )
}
