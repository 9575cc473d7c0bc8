//! `orq demo`: a small realistic mix of jobs, worked through in-process
//! with the same SQL calls any worker makes.

use std::thread::sleep;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::exit::{Code, Result};
use crate::output::{query, Output};

const JOBS: &[(&str, &str, &str)] = &[
    ("email", r#"{"to":"ada@example.com","template":"welcome"}"#, "{}"),
    ("email", r#"{"to":"bob@example.com","template":"welcome"}"#, "{}"),
    ("email", r#"{"to":"cy@example.com","template":"reset"}"#, "{}"),
    ("reports", r#"{"report":"daily-sales"}"#, r#"{"priority":10}"#),
    ("reports", r#"{"report":"weekly"}"#, r#"{"delay":1.5}"#),
    ("thumbnails", r#"{"image":"cat.png","fail":true}"#, r#"{"max_attempts":3,"backoff":{"base":0.2}}"#),
    ("thumbnails", r#"{"image":"dog.png"}"#, "{}"),
];

pub fn run(conn: &Connection, out: &Output) -> Result<Code> {
    let run_id = format!("demo-{}", std::process::id());
    for (queue, payload, options) in JOBS {
        let opts = serde_json::json!({ "key": format!("{run_id}-{payload}") });
        let mut merged: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(options).unwrap_or_default();
        merged.extend(opts.as_object().cloned().unwrap_or_default());
        let id: i64 = conn.query_row(
            "SELECT queue_enqueue(?1, ?2, ?3)",
            params![queue, payload, serde_json::Value::Object(merged).to_string()],
            |r| r.get(0),
        )?;
        say(out, &format!("enqueued job {id} on {queue}: {payload}"));
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let claimed =
            query(conn, "SELECT id, queue, payload, attempt, token FROM queue_claim('demo', 4)", [])?;
        if claimed.rows.is_empty() {
            if pending(conn)? == 0 {
                break;
            }
            sleep(Duration::from_millis(50));
            continue;
        }
        for row in &claimed.rows {
            let job = claimed.object(row);
            let (id, token) = (job["id"].as_i64().unwrap_or(0), job["token"].as_i64().unwrap_or(0));
            let attempt = job["attempt"].as_i64().unwrap_or(0);
            if job["payload"]["fail"] == true {
                let state: Option<String> = conn.query_row(
                    "SELECT queue_fail(?1, ?2, ?3)",
                    params![id, token, "thumbnailer crashed: unsupported image"],
                    |r| r.get(0),
                )?;
                say(out, &format!("job {id} failed on attempt {attempt}: now {}", state.unwrap_or_default()));
            } else {
                conn.query_row("SELECT queue_complete(?1, ?2, '{\"ok\":true}')", params![id, token], |_| {
                    Ok(())
                })?;
                say(
                    out,
                    &format!("job {id} ({}) done on attempt {attempt}", job["queue"].as_str().unwrap_or("")),
                );
            }
        }
    }
    query(conn, "SELECT * FROM queue_stats", [])?.print(out);
    Ok(Code::Ok)
}

fn pending(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT coalesce(sum(ready + scheduled + running), 0) FROM queue_stats", [], |r| {
        r.get(0)
    })?)
}

fn say(out: &Output, line: &str) {
    if !out.json {
        println!("{line}");
    }
}
