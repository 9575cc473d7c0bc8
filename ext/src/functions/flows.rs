//! Functions for workflows, dependencies, schedules and queue settings.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::args::Args;
use crate::bounds::time_ms;
use crate::clock::ms_to_secs;
use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};
use crate::ops;
use crate::options::{self, check_queue_name, excerpt, GroupSettings, QueueSettings, Rate};
use crate::schedules::{self, Schedule};
use crate::session::Session;
use crate::txn::{self, Writes};
use crate::workflow::Spec;

pub fn queue_workflow(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(spec)")?;
    let now = s.clock.now_ms();
    let spec = Spec::parse(a.text(0, "spec")?, now)?;
    txn::write(s, Writes::Many, &mut |c| spec.submit(c, now))
}

pub fn queue_workflow_cancel(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(workflow_id)")?;
    let id = a.int(0, "workflow_id")?;
    let now = s.clock.now_ms();
    txn::write(s, Writes::Many, &mut |c| ops::cancel_workflow(c, now, id))
}

pub fn queue_parent_results(s: &Session, a: &Args) -> Result<String> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    s.with(|res| ops::parent_results(&res.host, id))
}

pub fn queue_configure(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 2, "(queue, settings)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let settings: Settings = settings_object(a.text(1, "settings")?)?;
    let events = match &settings.events.0 {
        Some(v) => {
            Some(v.as_bool().ok_or_else(|| invalid(format!("events must be true or false, got {v}")))?)
        }
        None => None,
    };
    let retention = settings.retention.0.as_ref().map(options::retention).transpose()?;
    let settings = QueueSettings {
        events,
        retention: retention.unwrap_or_default(),
        max_running: running_limit("max_running", &settings.max_running)?,
        group_max_running: running_limit("group_max_running", &settings.group_max_running)?,
        rate: rate("rate", &settings.rate)?,
        group_rate: rate("group_rate", &settings.group_rate)?,
    };
    if settings == QueueSettings::default() {
        return Ok(0);
    }
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| ops::configure(c, now, queue, &settings))? as i64)
}

/// `queue_group_configure(queue, group, settings)`: one group's own limits
/// over its queue's defaults; null settings remove them all.
pub fn queue_group_configure(s: &Session, a: &Args) -> Result<i64> {
    a.arity(3, 3, "(queue, group, settings)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let group = options::key_text("group", &Value::String(a.text(1, "group")?.to_string()))?;
    let settings = match a.opt_text(2, "settings")? {
        None => None,
        Some(text) => {
            let keys: GroupKeys = settings_object(text)?;
            Some(GroupSettings {
                max_running: running_limit("max_running", &keys.max_running)?,
                rate: rate("rate", &keys.rate)?,
            })
        }
    };
    if settings == Some(GroupSettings::default()) {
        return Ok(0);
    }
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| ops::configure_group(c, now, queue, &group, settings.as_ref()))?
        as i64)
}

/// A settings object of queue_configure or queue_group_configure.
fn settings_object<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T> {
    fields::parse(text).map_err(|p| match p {
        Problem::NotJson(_) => invalid(format!("settings must be a JSON object, got {}", excerpt(text))),
        Problem::NotObject => invalid("settings must be a JSON object"),
        Problem::Unknown { key, known } => invalid(format!("unknown setting '{key}' (known: {known})")),
        Problem::Twice(key) => invalid(format!("setting '{key}' is given twice")),
    })
}

/// A limit on running jobs, where given (Some(None): remove it).
fn running_limit(what: &str, given: &Given) -> Result<Option<Option<i64>>> {
    given.0.as_ref().map(|v| options::running_limit(what, v)).transpose()
}

/// A rate limit, where given (Some(None): remove it).
fn rate(what: &str, given: &Given) -> Result<Option<Option<Rate>>> {
    given.0.as_ref().map(|v| options::rate(what, v)).transpose()
}

/// The keys of queue_configure's settings.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    events: Given,
    retention: Given,
    max_running: Given,
    group_max_running: Given,
    rate: Given,
    group_rate: Given,
}

/// The keys of queue_group_configure's settings.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct GroupKeys {
    max_running: Given,
    rate: Given,
}

pub fn queue_schedule(s: &Session, a: &Args) -> Result<f64> {
    a.arity(4, 5, "(name, cron, queue, payload [, options])")?;
    let mut options: Option<serde_json::Map<String, Value>> = match a.opt_text(4, "options")? {
        Some(t) => match serde_json::from_str(t) {
            Ok(Value::Object(m)) => Some(m),
            _ => return Err(invalid(format!("options must be a JSON object, got {}", excerpt(t)))),
        },
        None => None,
    };
    let tz = match options.as_mut().and_then(|o| o.remove("tz")) {
        Some(Value::String(tz)) => Some(tz),
        Some(other) => return Err(invalid(format!("tz must be a time zone name, got {other}"))),
        None => None,
    };
    let schedule = Schedule {
        name: a.text(0, "name")?.to_string(),
        cron: a.text(1, "cron")?.to_string(),
        tz,
        queue: a.text(2, "queue")?.to_string(),
        payload: a.json(3, "payload")?,
        options: options.filter(|o| !o.is_empty()).map(|o| Value::Object(o).to_string()),
    };
    let now = s.clock.now_ms();
    let next = schedule.first_run(now)?;
    txn::write(s, Writes::Once, &mut |c| schedule.save(c, now, next))?;
    Ok(ms_to_secs(next))
}

pub fn queue_unschedule(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(name)")?;
    let name = a.text(0, "name")?;
    Ok(txn::write(s, Writes::Once, &mut |c| schedules::delete(c, name))? as i64)
}

pub fn orq_cron_next(_: &Session, a: &Args) -> Result<f64> {
    a.arity(2, 3, "(cron, after [, tz])")?;
    let after = time_ms("after", a.number(1, "after")?)?;
    Ok(ms_to_secs(schedules::next_run(a.text(0, "cron")?, after, a.opt_text(2, "tz")?)?))
}

/// `queue_wait(queues, timeout [, worker])`: 1 when a job of `queues` (a
/// name, a JSON array of names, or NULL for all) may be claimable, 0 when
/// `timeout` seconds passed (or a signal interrupted the wait). On a
/// replicated host it only looks, whatever the timeout: the host's one
/// thread serves every client, so the client waits between looks.
pub fn queue_wait(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 3, "(queues, timeout_seconds [, worker])")?;
    let queues = a.opt_text(0, "queues")?.map(crate::claim::queue_list).transpose()?;
    let timeout = Duration::from_millis(crate::bounds::duration_ms(
        "timeout_seconds",
        a.number(1, "timeout_seconds")?,
    )? as u64);
    let worker = a.opt_text(2, "worker")?;
    s.with(|res| {
        let timeout = if res.replicated { Duration::ZERO } else { timeout };
        if res.watcher.is_none() && !res.replicated {
            res.watcher =
                Some(res.host.path().filter(|p| !p.is_empty()).and_then(crate::commit_watch::Watcher::new));
        }
        let watcher = res.watcher.as_ref().and_then(|w| w.as_ref());
        let w = crate::wait::WaitFor { queues: queues.as_deref(), worker };
        Ok(crate::wait::wait(&res.host, watcher, &w, timeout, || s.clock.now_ms())? as i64)
    })
}
