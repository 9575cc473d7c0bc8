//! `GET /metrics`: the Prometheus text format (0.0.4), encoded by the
//! prometheus-client crate from a collector over `queue_metrics`, read at
//! scrape time: every process that reads the database sees the same
//! numbers, and this server keeps no counters of its own. Names and help
//! texts come from the extension; this module only renders them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use rusqlite::types::Value as Sql;

use super::error::ApiResult;
use super::Shared;
use crate::exit::{Code, Failure, Result};
use crate::output::cell;
use crate::store::Store;

/// One row of `queue_metrics`.
#[derive(Debug)]
struct Row {
    queue: String,
    metric: String,
    kind: String,
    le: Option<f64>,
    value: Sql,
}

/// A metric's rows per queue, in first-seen order of metrics (each with its
/// kind and help text).
#[derive(Debug, Default)]
struct QueueMetrics {
    order: Vec<(String, String, String)>,
    rows: BTreeMap<String, Vec<Row>>,
}

/// One queue's histogram as `queue_metrics` has it: cumulative counts per
/// upper bound.
#[derive(Default)]
struct Hist {
    sum: f64,
    count: u64,
    cumulative: Vec<(f64, u64)>,
}

/// The alert rules as gauges: 1 while firing.
#[derive(Debug, Default)]
struct AlertStates(Vec<(String, String, bool)>);

impl QueueMetrics {
    fn read(store: &Store) -> Result<QueueMetrics> {
        let rows = store.read("SELECT queue, metric, kind, le, value, help FROM queue_metrics", &[])?;
        let mut out = QueueMetrics::default();
        for r in rows.rows {
            let row = Row {
                queue: cell::<Option<String>>(&r[0])?.unwrap_or_default(),
                metric: cell(&r[1])?,
                kind: cell(&r[2])?,
                le: cell(&r[3])?,
                value: r[4].clone(),
            };
            // histogram_sum and histogram_count rows belong to the
            // histogram of their metric.
            let family = row.metric.clone();
            if !out.rows.contains_key(&family) {
                let kind = if row.kind.starts_with("histogram") { "histogram" } else { row.kind.as_str() };
                out.order.push((family.clone(), kind.to_string(), cell(&r[5])?));
            }
            out.rows.entry(family).or_default().push(row);
        }
        Ok(out)
    }
}

fn number(v: &Sql) -> f64 {
    match v {
        Sql::Integer(n) => *n as f64,
        Sql::Real(f) => *f,
        _ => 0.0,
    }
}

/// Whole numbers print as integers (`3`, not `3.0`).
fn whole(v: &Sql) -> Option<i64> {
    match v {
        Sql::Integer(n) => Some(*n),
        Sql::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    }
}

impl Collector for QueueMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        for (metric, kind, help) in &self.order {
            let rows = &self.rows[metric];
            match kind.as_str() {
                "counter" => {
                    // The encoder appends `_total` to counters itself.
                    let name = metric.strip_suffix("_total").unwrap_or(metric);
                    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                    for r in rows {
                        let labels = [("queue", r.queue.as_str())];
                        let mut family = m.encode_family(&labels)?;
                        match whole(&r.value) {
                            Some(n) if n >= 0 => {
                                family.encode_counter::<NoLabelSet, _, u64>(&(n as u64), None)?
                            }
                            _ => family.encode_counter::<NoLabelSet, _, f64>(&number(&r.value), None)?,
                        }
                    }
                }
                "histogram" => {
                    let mut m = encoder.encode_descriptor(metric, help, None, MetricType::Histogram)?;
                    let mut per_queue: BTreeMap<&str, Hist> = BTreeMap::new();
                    for r in rows {
                        let h = per_queue.entry(r.queue.as_str()).or_default();
                        match (r.kind.as_str(), r.le) {
                            ("histogram_sum", _) => h.sum = number(&r.value),
                            ("histogram_count", _) => h.count = number(&r.value) as u64,
                            ("histogram", Some(le)) => h.cumulative.push((le, number(&r.value) as u64)),
                            _ => {}
                        }
                    }
                    for (queue, Hist { sum, count, mut cumulative }) in per_queue {
                        // queue_metrics gives cumulative counts per upper
                        // bound; the encoder wants each bucket's own count.
                        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
                        let mut below = 0u64;
                        let buckets: Vec<(f64, u64)> = cumulative
                            .into_iter()
                            .map(|(le, c)| {
                                let own = c.saturating_sub(below);
                                below = below.max(c);
                                (le, own)
                            })
                            .collect();
                        let labels = [("queue", queue)];
                        m.encode_family(&labels)?
                            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
                    }
                }
                _ => {
                    let mut m = encoder.encode_descriptor(metric, help, None, MetricType::Gauge)?;
                    for r in rows {
                        let labels = [("queue", r.queue.as_str())];
                        let mut family = m.encode_family(&labels)?;
                        match whole(&r.value) {
                            Some(n) => family.encode_gauge(&n)?,
                            None => family.encode_gauge(&number(&r.value))?,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl AlertStates {
    fn read(store: &Store) -> Result<AlertStates> {
        let rows = store.read("SELECT name, queue, state FROM queue_alerts", &[])?;
        let mut out = Vec::new();
        for r in rows.rows {
            let queue = cell::<Option<String>>(&r[1])?.unwrap_or_default();
            out.push((cell(&r[0])?, queue, cell::<String>(&r[2])? == "firing"));
        }
        Ok(AlertStates(out))
    }
}

impl Collector for AlertStates {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut m = encoder.encode_descriptor(
            "alert_firing",
            orq::metric_help("alert_firing"),
            None,
            MetricType::Gauge,
        )?;
        for (name, queue, firing) in &self.0 {
            let labels = [("alert", name.as_str()), ("queue", queue.as_str())];
            m.encode_family(&labels)?.encode_gauge(&i64::from(*firing))?;
        }
        Ok(())
    }
}

pub async fn metrics(State(app): State<Shared>) -> ApiResult<Response> {
    let text = app
        .pool
        .run(|store| {
            let mut registry = Registry::with_prefix("orq");
            registry.register_collector(Box::new(QueueMetrics::read(store)?));
            registry.register_collector(Box::new(AlertStates::read(store)?));
            let mut text = String::new();
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
                .map_err(|e| Failure { code: Code::Database, message: format!("encoding metrics: {e}") })?;
            Ok(text)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], text)
        .into_response())
}
