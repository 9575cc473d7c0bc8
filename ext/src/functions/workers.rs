//! queue_worker_* functions: the worker registry, and run accounting.

use crate::args::Args;
use crate::error::invalid;
use crate::error::Result;
use crate::options::{name, MAX_NAME_BYTES};
use crate::session::Session;
use crate::txn::{self, Writes};
use crate::workers::{self, BeatReport, RunUsage, WorkerInfo};

fn worker_name(a: &Args) -> Result<String> {
    let text = a.text(0, "name")?;
    name("name", &serde_json::Value::from(text))
        .map_err(|_| invalid(format!("name must be 1 to {MAX_NAME_BYTES} printable bytes")))
}

pub fn queue_worker_register(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 2, "(name [, info])")?;
    let worker = worker_name(a)?;
    let info = WorkerInfo::parse(a.opt_text(1, "info")?)?;
    let now = s.clock.now_ms();
    txn::write(s, Writes::Once, &mut |c| workers::register(c, now, &worker, &info))?;
    Ok(1)
}

pub fn queue_worker_heartbeat(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 2, "(name [, stats])")?;
    let worker = worker_name(a)?;
    // Checked before the write, so bad input changes nothing.
    let (done, failed) = workers::heartbeat_stats(a.opt_text(1, "stats")?)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| workers::heartbeat(c, now, &worker, done, failed))? as i64)
}

pub fn queue_worker_beat(s: &Session, a: &Args) -> Result<String> {
    a.arity(1, 2, "(name [, report])")?;
    let worker = worker_name(a)?;
    let report = BeatReport::parse(a.opt_text(1, "report")?)?;
    let now = s.clock.now_ms();
    txn::write(s, Writes::Many, &mut |c| workers::beat(c, now, &worker, &report))
}

pub fn queue_worker_stop(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(name)")?;
    let worker = worker_name(a)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| workers::stop(c, now, &worker, false))? as i64)
}

pub fn queue_worker_dead(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(name)")?;
    let worker = worker_name(a)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| workers::stop(c, now, &worker, true))? as i64)
}

pub fn queue_record_run(s: &Session, a: &Args) -> Result<i64> {
    a.arity(3, 3, "(id, token, usage)")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    let usage = RunUsage::parse(Some(a.text(2, "usage")?))?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| workers::record_run(c, now, id, token, &usage))? as i64)
}
