//! Alerts and health: queue_alert, queue_alert_remove, queue_alerts_check,
//! queue_health. (queue_metrics, the numbers both rest on, is a table.)

use crate::alerts::{self, Rule};
use crate::args::Args;
use crate::bounds::duration_ms;
use crate::error::Result;
use crate::health;
use crate::schema;
use crate::session::Session;
use crate::txn::{self, Writes};

pub fn queue_alert(s: &Session, a: &Args) -> Result<i64> {
    a.arity(5, 6, "(name, queue, metric, op, threshold [, for_seconds])")?;
    let rule = Rule {
        name: a.text(0, "name")?.to_string(),
        queue: a.opt_text(1, "queue")?.map(str::to_string),
        metric: a.text(2, "metric")?.to_string(),
        op: a.text(3, "op")?.to_string(),
        threshold: a.number(4, "threshold")?,
        for_ms: duration_ms("for_seconds", a.opt_number(5, "for_seconds")?.unwrap_or(0.0))?,
    };
    rule.check()?;
    let now = s.clock.now_ms();
    txn::write(s, Writes::Once, &mut |c| rule.save(c, now))?;
    Ok(1)
}

pub fn queue_alert_remove(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(name)")?;
    let name = a.text(0, "name")?;
    Ok(txn::write(s, Writes::Once, &mut |c| alerts::remove(c, name))? as i64)
}

/// Evaluates every rule, then records the new states in one write. The
/// metrics are computed before the write lock is taken (reading the event
/// trail can take a while), and the write starts from the states stored by
/// then, so concurrent checks never report one firing twice.
pub fn queue_alerts_check(s: &Session, a: &Args) -> Result<String> {
    a.arity(0, 0, "no arguments")?;
    let now = s.clock.now_ms();
    let evaluations = s.with(|res| match schema::version(&res.host)? {
        // An older schema has no rules yet (and a newer one is refused).
        v if v < schema::LATEST => Ok(Vec::new()),
        _ if !schema::readable(&res.host)? => Ok(Vec::new()),
        _ => alerts::evaluate(&res.host, now),
    })?;
    if evaluations.is_empty() {
        return Ok("[]".to_string());
    }
    txn::write(s, Writes::Many, &mut |c| alerts::apply(c, now, &evaluations))
}

pub fn queue_health(s: &Session, a: &Args) -> Result<String> {
    a.arity(0, 1, "([options])")?;
    let options = health::Options::parse(a.opt_text(0, "options")?)?;
    let now = s.clock.now_ms();
    s.with(|res| health::report(&res.host, now, &options))
}
