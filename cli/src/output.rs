//! What commands print: aligned tables for people, JSON for scripts.

use rusqlite::types::{FromSql, Value, ValueRef};
use rusqlite::{Connection, Params};
use serde_json::{json, Map};

use crate::exit::Result;
use crate::time::now_secs;

pub struct Output {
    pub json: bool,
}

/// The result of a query: column names and rows.
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub fn query(conn: &Connection, sql: &str, params: impl Params) -> Result<Rows> {
    let mut stmt = conn.prepare(sql)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let n = columns.len();
    let rows = stmt
        .query_map(params, |r| (0..n).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>())?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Rows { columns, rows })
}

/// One cell as a Rust value, by the rules of rusqlite's `Row::get`.
pub fn cell<T: FromSql>(v: &Value) -> Result<T> {
    T::column_result(ValueRef::from(v)).map_err(|e| crate::exit::Failure {
        code: crate::exit::Code::Database,
        message: format!("unexpected value {v:?}: {e}"),
    })
}

impl Rows {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.rows.iter().map(|row| self.object(row)).collect())
    }

    pub fn object(&self, row: &[Value]) -> serde_json::Value {
        let mut m = Map::new();
        for (name, v) in self.columns.iter().zip(row) {
            m.insert(name.clone(), json_value(name, v));
        }
        serde_json::Value::Object(m)
    }

    /// Prints the rows as a table, or as JSON.
    pub fn print(&self, out: &Output) {
        if out.json {
            println!("{}", self.to_json());
            return;
        }
        print_table(&self.columns, &self.cells());
    }

    /// Every cell as people read it.
    pub fn cells(&self) -> Vec<Vec<String>> {
        let now = now_secs();
        self.rows
            .iter()
            .map(|row| self.columns.iter().zip(row).map(|(name, v)| human(name, v, now)).collect())
            .collect()
    }

    /// Prints one row as `name: value` lines, or as a JSON object.
    pub fn print_record(&self, out: &Output) {
        let Some(row) = self.rows.first() else { return };
        if out.json {
            println!("{}", self.object(row));
            return;
        }
        let width = self.columns.iter().map(|c| c.len()).max().unwrap_or(0);
        let now = now_secs();
        for (name, v) in self.columns.iter().zip(row) {
            let shown = match v {
                Value::Text(t) => t.clone(),
                other => human(name, other, now),
            };
            println!("{name:>width$}  {shown}");
        }
    }
}

/// JSON for a column: JSON text columns are embedded as JSON.
fn json_value(name: &str, v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(n) => json!(n),
        Value::Real(f) => json!(f),
        Value::Text(t)
            if matches!(
                name,
                "payload"
                    | "result"
                    | "backoff"
                    | "detail"
                    | "depends_on"
                    | "requires"
                    | "not_workers"
                    | "queues"
                    | "capabilities"
                    | "options"
                    | "info"
                    | "retention"
                    | "progress"
            ) =>
        {
            serde_json::from_str(t).unwrap_or_else(|_| json!(t))
        }
        Value::Text(t) => json!(t),
        Value::Blob(b) => json!(format!("<{} bytes>", b.len())),
    }
}

/// A cell for people: times relative to now, long text cut short.
fn human(name: &str, v: &Value, now: f64) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::Real(t) if name.ends_with("_at") || name == "at" || name == "lease_until" => relative(*t, now),
        Value::Real(f) if name.ends_with("_age") || name == "lease" => seconds(*f),
        Value::Integer(n) => n.to_string(),
        Value::Real(f) => format!("{f}"),
        Value::Text(t) if name == "retention" => retention(t),
        Value::Text(t) => cut(t, 48),
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// A queue's retention (queue_stats) for people: "done 7d, dead 30d,
/// cancelled forever".
fn retention(text: &str) -> String {
    let Ok(serde_json::Value::Object(states)) = serde_json::from_str(text) else { return cut(text, 48) };
    let kept = |v: &serde_json::Value| v.as_f64().map(seconds).unwrap_or_else(|| "forever".into());
    let of = |state: &str| states.get(state).map(kept).unwrap_or_else(|| "-".into());
    format!("done {}, dead {}, cancelled {}", of("done"), of("dead"), of("cancelled"))
}

/// "in 5s", "3m ago", "now".
pub fn relative(t: f64, now: f64) -> String {
    let d = t - now;
    if d.abs() < 0.5 {
        "now".to_string()
    } else if d > 0.0 {
        format!("in {}", seconds(d))
    } else {
        format!("{} ago", seconds(-d))
    }
}

/// A duration in the largest fitting unit: 850ms, 12s, 5m, 3h, 2d.
pub fn seconds(s: f64) -> String {
    match s {
        s if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        s if s < 120.0 => format!("{:.0}s", s),
        s if s < 7200.0 => format!("{:.0}m", s / 60.0),
        s if s < 172_800.0 => format!("{:.0}h", s / 3600.0),
        s => format!("{:.0}d", s / 86400.0),
    }
}

pub fn cut(text: &str, max: usize) -> String {
    let flat = text.replace(['\n', '\r', '\t'], " ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max - 1).collect::<String>())
    }
}

/// Columns padded to their widest cell; numbers right-aligned.
pub fn print_table(headers: &[String], rows: &[Vec<String>]) {
    if rows.is_empty() {
        println!("(no rows)");
        return;
    }
    for line in table_lines(headers, rows) {
        println!("{line}");
    }
}

/// The lines of a table (header first).
pub fn table_lines(headers: &[String], rows: &[Vec<String>]) -> Vec<String> {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    let numeric: Vec<bool> =
        (0..headers.len()).map(|i| rows.iter().all(|r| r[i] == "-" || r[i].parse::<f64>().is_ok())).collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    std::iter::once(line(&header)).chain(rows.iter().map(|r| line(r))).collect()
}
