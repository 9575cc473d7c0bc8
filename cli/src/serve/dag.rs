//! A workflow's DAG laid out for drawing: one column per depth (the longest
//! path from a root), left to right, and within a column jobs ordered by
//! the mean position of their parents (then of their children), which
//! keeps most edges short and uncrossed. The page only draws the boxes.

use std::collections::HashMap;

use serde_json::{json, Value};

pub const NODE_W: f64 = 172.0;
pub const NODE_H: f64 = 48.0;
const GAP_X: f64 = 72.0;
const GAP_Y: f64 = 20.0;
const MARGIN: f64 = 12.0;

/// `jobs`: rows of `queue_workflow_jobs` as JSON (with `key` and
/// `depends_on`, an array of keys). Returns nodes with x, y, edges, size.
pub fn layout(jobs: &[Value]) -> Value {
    let keys: Vec<String> = jobs.iter().map(|j| j["key"].as_str().unwrap_or_default().to_string()).collect();
    let index: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let parents: Vec<Vec<usize>> = jobs
        .iter()
        .map(|j| {
            j["depends_on"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p.as_str().and_then(|p| index.get(p).copied())).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut children = vec![Vec::new(); jobs.len()];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let depth = depths(&parents, &children);
    let columns = depth.iter().max().map_or(0, |d| d + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, &d) in depth.iter().enumerate() {
        layers[d].push(i);
    }
    let mut pos = vec![0.0f64; jobs.len()];
    let place = |layer: &[usize], pos: &mut Vec<f64>| {
        for (n, &i) in layer.iter().enumerate() {
            pos[i] = n as f64;
        }
    };
    for layer in &layers {
        place(layer, &mut pos);
    }
    // Barycentre sweeps: down by parents, up by children, down again.
    for (down, neighbours) in [(true, &parents), (false, &children), (true, &parents)] {
        let order: Vec<usize> =
            if down { (1..columns).collect() } else { (0..columns.saturating_sub(1)).rev().collect() };
        for c in order {
            let mut keyed: Vec<(f64, usize)> = layers[c]
                .iter()
                .map(|&i| {
                    let ns = &neighbours[i];
                    let bary = if ns.is_empty() {
                        pos[i]
                    } else {
                        ns.iter().map(|&n| pos[n]).sum::<f64>() / ns.len() as f64
                    };
                    (bary, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            layers[c] = keyed.into_iter().map(|(_, i)| i).collect();
            place(&layers[c], &mut pos);
        }
    }
    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let height = tallest * (NODE_H + GAP_Y) - GAP_Y + 2.0 * MARGIN;
    let width = columns as f64 * (NODE_W + GAP_X) - GAP_X + 2.0 * MARGIN;
    let nodes: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let column = &layers[depth[i]];
            // Shorter columns are centred on the tallest.
            let offset = (tallest - column.len() as f64) * (NODE_H + GAP_Y) / 2.0;
            json!({
                "key": keys[i],
                "id": j["id"],
                "queue": j["queue"],
                "state": j["state"],
                "attempts": j["attempts"],
                "max_attempts": j["max_attempts"],
                "error": j["error"],
                "depth": depth[i],
                "x": MARGIN + depth[i] as f64 * (NODE_W + GAP_X),
                "y": MARGIN + offset + pos[i] * (NODE_H + GAP_Y),
            })
        })
        .collect();
    let edges: Vec<Value> = parents
        .iter()
        .enumerate()
        .flat_map(|(child, ps)| ps.iter().map(move |&p| (p, child)))
        .map(|(p, c)| json!({ "from": keys[p], "to": keys[c] }))
        .collect();
    json!({
        "nodes": nodes,
        "edges": edges,
        "width": width.max(0.0),
        "height": height.max(0.0),
        "node_width": NODE_W,
        "node_height": NODE_H,
    })
}

/// Longest path from a root, in topological order (Kahn), without
/// recursion: a workflow may be a chain of thousands of jobs. Jobs on a
/// cycle (orq refuses those at submit) stay at depth 0.
fn depths(parents: &[Vec<usize>], children: &[Vec<usize>]) -> Vec<usize> {
    let mut depth = vec![0usize; parents.len()];
    let mut left: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..parents.len()).filter(|&i| left[i] == 0).collect();
    while let Some(p) = ready.pop() {
        for &c in &children[p] {
            depth[c] = depth[c].max(depth[p] + 1);
            left[c] -= 1;
            if left[c] == 0 {
                ready.push(c);
            }
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diamond_has_three_columns_and_four_edges() {
        let jobs: Vec<Value> = [("a", "[]"), ("b", r#"["a"]"#), ("c", r#"["a"]"#), ("d", r#"["b","c"]"#)]
            .iter()
            .enumerate()
            .map(|(i, (k, deps))| json!({ "key": k, "id": i + 1, "state": "ready", "depends_on": serde_json::from_str::<Value>(deps).unwrap() }))
            .collect();
        let g = layout(&jobs);
        let depth: Vec<i64> =
            g["nodes"].as_array().unwrap().iter().map(|n| n["depth"].as_i64().unwrap()).collect();
        assert_eq!(depth, [0, 1, 1, 2]);
        assert_eq!(g["edges"].as_array().unwrap().len(), 4);
        // a and d are centred on the column of b and c.
        let y = |i: usize| g["nodes"][i]["y"].as_f64().unwrap();
        assert_eq!(y(0), y(3));
        assert!(y(1) < y(0) && y(0) < y(2));
    }
}
