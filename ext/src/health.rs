//! queue_health: one read-only look at what needs a person: the database
//! file's integrity and room, and the queue's stuck or failed parts. Each
//! check says ok, warning or critical; the overall status is the worst.
//! Alerts are read as the last queue_alerts_check left them, not evaluated.

use std::path::Path;

use rusqlite::{named_params, Connection};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};
use crate::options::excerpt;
use crate::{schema, sql};

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Status {
    Ok,
    Warning,
    Critical,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

/// The thresholds, from the options object.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub disk_warn_mb: f64,
    pub disk_crit_mb: f64,
    pub wal_warn_mb: f64,
    pub dead_warn: i64,
    /// PRAGMA quick_check reads every page: a large database polled often
    /// may want it only now and then.
    pub quick_check: bool,
}

/// The keys of queue_health's options.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct OptionKeys {
    disk_warn_mb: Given,
    disk_crit_mb: Given,
    wal_warn_mb: Given,
    dead_warn: Given,
    quick_check: Given,
}

impl Options {
    pub fn parse(text: Option<&str>) -> Result<Options> {
        let mut o = Options {
            disk_warn_mb: 1024.0,
            disk_crit_mb: 100.0,
            wal_warn_mb: 256.0,
            dead_warn: 0,
            quick_check: true,
        };
        let Some(text) = text else { return Ok(o) };
        let keys: OptionKeys = fields::parse(text).map_err(|p| match p {
            Problem::Unknown { key, known } => invalid(format!("unknown option '{key}' (known: {known})")),
            Problem::Twice(key) => invalid(format!("option '{key}' is given twice")),
            _ => invalid(format!("options must be a JSON object, got {}", excerpt(text))),
        })?;
        if let Some(v) = &keys.disk_warn_mb.0 {
            o.disk_warn_mb = megabytes("disk_warn_mb", v)?;
        }
        if let Some(v) = &keys.disk_crit_mb.0 {
            o.disk_crit_mb = megabytes("disk_crit_mb", v)?;
        }
        if let Some(v) = &keys.wal_warn_mb.0 {
            o.wal_warn_mb = megabytes("wal_warn_mb", v)?;
        }
        if let Some(v) = &keys.dead_warn.0 {
            o.dead_warn = v
                .as_i64()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid(format!("dead_warn must be an integer >= 0, got {v}")))?;
        }
        if let Some(v) = &keys.quick_check.0 {
            o.quick_check =
                v.as_bool().ok_or_else(|| invalid(format!("quick_check must be true or false, got {v}")))?;
        }
        Ok(o)
    }
}

fn megabytes(key: &str, v: &Json) -> Result<f64> {
    v.as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| invalid(format!("{key} must be a number of megabytes >= 0, got {v}")))
}

struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    value: Json,
}

/// Runs every check on `conn` at `now`; the report as JSON text.
pub fn report(conn: &Connection, now: i64, o: &Options) -> Result<String> {
    let path = conn.path().filter(|p| !p.is_empty()).map(str::to_string);
    let integrity = if o.quick_check {
        quick_check(conn)?
    } else {
        Check { name: "quick_check", status: Status::Ok, detail: "skipped".into(), value: Json::Null }
    };
    let mut checks = vec![integrity, disk_free(path.as_deref(), o), wal_size(path.as_deref(), o)];
    // Before the first orq write there is no schema: nothing is stuck.
    let has_schema = schema::readable(conn)?;
    checks.push(expired_leases(conn, now, has_schema)?);
    checks.push(dead_workers(conn, now, has_schema)?);
    checks.push(dead_jobs(conn, has_schema, o)?);
    checks.push(alerts(conn, has_schema)?);
    let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    let items: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                r#"{{"name":{},"status":{},"detail":{},"value":{}}}"#,
                Json::from(c.name),
                Json::from(c.status.as_str()),
                Json::from(c.detail.as_str()),
                c.value
            )
        })
        .collect();
    Ok(format!(r#"{{"status":{},"checks":[{}]}}"#, Json::from(status.as_str()), items.join(",")))
}

/// PRAGMA quick_check of the main database (O(database size): it reads every page).
fn quick_check(conn: &Connection) -> Result<Check> {
    let mut stmt = conn.prepare("PRAGMA main.quick_check")?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|line| line != "ok")
        .collect();
    Ok(if problems.is_empty() {
        Check { name: "quick_check", status: Status::Ok, detail: "ok".into(), value: Json::from(0) }
    } else {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        Check {
            name: "quick_check",
            status: Status::Critical,
            detail: shown.join("; "),
            value: Json::from(problems.len()),
        }
    })
}

fn disk_free(path: Option<&str>, o: &Options) -> Check {
    let name = "disk_free";
    let Some(path) = path else {
        return Check { name, status: Status::Ok, detail: "in-memory".into(), value: Json::Null };
    };
    let dir = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match free_bytes(dir) {
        Ok(bytes) => {
            let mb = bytes as f64 / MIB;
            let status = if mb < o.disk_crit_mb {
                Status::Critical
            } else if mb < o.disk_warn_mb {
                Status::Warning
            } else {
                Status::Ok
            };
            Check {
                name,
                status,
                detail: format!("{mb:.0} MB free in {}", dir.display()),
                value: Json::from(bytes),
            }
        }
        Err(e) => Check {
            name,
            status: Status::Warning,
            detail: format!("cannot read the free space of {}: {e}", dir.display()),
            value: Json::Null,
        },
    }
}

/// Bytes an unprivileged process may still write on the file system of `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the zeroed struct; c_dir is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_dir.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> std::io::Result<u64> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "statvfs is unix only"))
}

fn wal_size(path: Option<&str>, o: &Options) -> Check {
    let name = "wal_size";
    let Some(path) = path else {
        return Check { name, status: Status::Ok, detail: "in-memory".into(), value: Json::Null };
    };
    // No -wal file: not in WAL mode, or checkpointed and removed.
    let bytes = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
    let mb = bytes as f64 / MIB;
    let status = if mb > o.wal_warn_mb { Status::Warning } else { Status::Ok };
    let detail = if status == Status::Ok {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.1} MB: a reader that never ends keeps checkpoints from resetting it")
    };
    Check { name, status, detail, value: Json::from(bytes) }
}

fn count(conn: &Connection, sql: &str, now: i64) -> Result<i64> {
    let mut stmt = conn.prepare_cached(sql)?;
    let named: Vec<(&str, &dyn rusqlite::ToSql)> =
        if matches!(stmt.parameter_index(":now"), Ok(Some(_))) { vec![(":now", &now)] } else { Vec::new() };
    Ok(stmt.query_row(named.as_slice(), |r| r.get(0))?)
}

fn expired_leases(conn: &Connection, now: i64, has_schema: bool) -> Result<Check> {
    let n = if has_schema { count(conn, sql::HEALTH_EXPIRED_LEASES, now)? } else { 0 };
    Ok(Check {
        name: "expired_leases",
        status: if n > 0 { Status::Warning } else { Status::Ok },
        detail: if n > 0 {
            format!("{n} running job(s) past their lease; the next claim of their queue takes them back")
        } else {
            "none".into()
        },
        value: Json::from(n),
    })
}

fn dead_workers(conn: &Connection, now: i64, has_schema: bool) -> Result<Check> {
    let names: Vec<String> = if has_schema {
        let mut stmt = conn.prepare_cached(sql::WORKERS_DEAD)?;
        let rows = stmt.query_map(named_params! {":now": now}, |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok(Check {
        name: "dead_workers",
        status: if names.is_empty() { Status::Ok } else { Status::Warning },
        detail: if names.is_empty() {
            "none".into()
        } else {
            format!("missed three heartbeats: {}", names.join(", "))
        },
        value: Json::from(names.len()),
    })
}

fn dead_jobs(conn: &Connection, has_schema: bool, o: &Options) -> Result<Check> {
    let n = if has_schema { count(conn, sql::HEALTH_DEAD_JOBS, 0)? } else { 0 };
    Ok(Check {
        name: "dead_jobs",
        status: if n > o.dead_warn { Status::Warning } else { Status::Ok },
        detail: format!("{n} dead job(s)"),
        value: Json::from(n),
    })
}

fn alerts(conn: &Connection, has_schema: bool) -> Result<Check> {
    let states: Vec<(String, String)> = if has_schema {
        let mut stmt = conn.prepare_cached(sql::HEALTH_ALERTS)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let names =
        |state: &str| states.iter().filter(|s| s.1 == state).map(|s| s.0.as_str()).collect::<Vec<_>>();
    let (firing, pending) = (names("firing"), names("pending"));
    let status = if !firing.is_empty() {
        Status::Critical
    } else if !pending.is_empty() {
        Status::Warning
    } else {
        Status::Ok
    };
    let mut parts = Vec::new();
    if !firing.is_empty() {
        parts.push(format!("firing: {}", firing.join(", ")));
    }
    if !pending.is_empty() {
        parts.push(format!("pending: {}", pending.join(", ")));
    }
    Ok(Check {
        name: "alerts",
        status,
        detail: if parts.is_empty() { "none".into() } else { parts.join("; ") },
        value: Json::from(firing.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_have_defaults_and_refuse_unknown_keys() {
        let d = Options::parse(None).unwrap();
        assert_eq!((d.disk_warn_mb, d.disk_crit_mb, d.wal_warn_mb, d.dead_warn), (1024.0, 100.0, 256.0, 0));
        assert!(d.quick_check);
        assert_eq!(Options::parse(Some(r#"{"dead_warn":3}"#)).unwrap().dead_warn, 3);
        assert!(!Options::parse(Some(r#"{"quick_check":false}"#)).unwrap().quick_check);
        for bad in [
            r#"{"disk":1}"#,
            r#"{"dead_warn":-1}"#,
            r#"{"wal_warn_mb":"x"}"#,
            r#"{"quick_check":0}"#,
            "[1]",
            "nope",
        ] {
            assert!(Options::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
