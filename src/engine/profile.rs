//! ONNX Runtime's per-node profile ([`crate::engine::EngineOptions::profile`]): reads the
//! Chrome-trace JSON a session writes and says where each run's time went, node by node.
//!
//! ONNX Runtime records one `Session` event `model_run` per run and, inside it, one `Node` event
//! `<node>_kernel_time` per node executed (`args.op_name` is its operator). Events are grouped
//! into runs by time, so a caller that knows which runs were which (warm-up, frame size) can
//! summarise any subset of them.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One node's kernel in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEvent {
    /// The node's name in the optimised graph (ONNX Runtime renames fused nodes).
    pub node: String,
    /// Its operator, e.g. `Conv`, `ai.stylecam` operators by their own names.
    pub op: String,
    pub micros: f64,
}

/// One `Session::Run`: its wall time and the nodes it executed, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    pub micros: f64,
    pub nodes: Vec<NodeEvent>,
}

/// A node's share of the runs summarised by [`summarise`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeTime {
    pub node: String,
    pub op: String,
    /// Mean kernel time per run, milliseconds.
    pub ms_per_run: f64,
    /// Share of the runs' mean wall time, percent.
    pub percent: f64,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ts: f64,
    #[serde(default)]
    dur: f64,
    #[serde(default)]
    args: HashMap<String, serde_json::Value>,
}

/// The runs in the profile file at `path`, in order.
pub fn read(path: &Path) -> Result<Vec<Run>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        reason: format!("cannot read ONNX Runtime's profile: {e}"),
    })?;
    parse(&text).map_err(|reason| Error::Input {
        path: path.to_path_buf(),
        reason,
    })
}

/// The runs in a profile's text, in order.
pub fn parse(json: &str) -> std::result::Result<Vec<Run>, String> {
    let events: Vec<Event> = serde_json::from_str(json)
        .map_err(|e| format!("not an ONNX Runtime profile (a JSON array of trace events): {e}"))?;
    let mut runs: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e.cat == "Session" && e.name == "model_run")
        .map(|e| (e.ts, e.dur))
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Run> = runs
        .iter()
        .map(|&(_, dur)| Run {
            micros: dur,
            nodes: Vec::new(),
        })
        .collect();
    let mut nodes: Vec<&Event> = events
        .iter()
        .filter(|e| e.cat == "Node" && e.name.ends_with("_kernel_time"))
        .collect();
    nodes.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    for e in nodes {
        // The last run that started at or before the node.
        let Some(i) = runs.partition_point(|r| r.0 <= e.ts).checked_sub(1) else {
            continue;
        };
        let (start, dur) = runs[i];
        if e.ts > start + dur {
            continue;
        }
        let op = e
            .args
            .get("op_name")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        out[i].nodes.push(NodeEvent {
            node: e.name.trim_end_matches("_kernel_time").to_string(),
            op,
            micros: e.dur,
        });
    }
    Ok(out)
}

/// Mean time per run of every node over `runs`, slowest first.
pub fn summarise(runs: &[Run]) -> Vec<NodeTime> {
    if runs.is_empty() {
        return Vec::new();
    }
    let n = runs.len() as f64;
    let wall_ms = runs.iter().map(|r| r.micros).sum::<f64>() / n / 1000.0;
    let mut order: Vec<(String, String)> = Vec::new();
    let mut total: HashMap<(String, String), f64> = HashMap::new();
    for node in runs.iter().flat_map(|r| &r.nodes) {
        let key = (node.node.clone(), node.op.clone());
        if !total.contains_key(&key) {
            order.push(key.clone());
        }
        *total.entry(key).or_default() += node.micros;
    }
    let mut times: Vec<NodeTime> = order
        .into_iter()
        .map(|key| {
            let ms = total[&key] / n / 1000.0;
            NodeTime {
                node: key.0,
                op: key.1,
                ms_per_run: ms,
                percent: if wall_ms > 0.0 {
                    100.0 * ms / wall_ms
                } else {
                    0.0
                },
            }
        })
        .collect();
    times.sort_by(|a, b| b.ms_per_run.total_cmp(&a.ms_per_run));
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of ONNX Runtime 1.32's profile: session events, and per node a fence before,
    /// the kernel time and a fence after.
    const PROFILE: &str = r#"[
        {"cat":"Session","pid":1,"tid":1,"dur":900,"ts":10,"ph":"X","name":"session_initialization","args":{}},
        {"cat":"Session","pid":1,"tid":1,"dur":100,"ts":1000,"ph":"X","name":"model_run","args":{}},
        {"cat":"Node","pid":1,"tid":1,"dur":1,"ts":1001,"ph":"X","name":"conv1_fence_before","args":{"op_name":"Conv"}},
        {"cat":"Node","pid":1,"tid":1,"dur":60,"ts":1002,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
        {"cat":"Node","pid":1,"tid":1,"dur":30,"ts":1063,"ph":"X","name":"in1_kernel_time","args":{"op_name":"InstanceNormRelu"}},
        {"cat":"Session","pid":1,"tid":1,"dur":200,"ts":2000,"ph":"X","name":"model_run","args":{}},
        {"cat":"Node","pid":1,"tid":1,"dur":20,"ts":2150,"ph":"X","name":"in1_kernel_time","args":{"op_name":"InstanceNormRelu"}},
        {"cat":"Node","pid":1,"tid":1,"dur":140,"ts":2001,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv"}}
    ]"#;

    #[test]
    fn nodes_are_grouped_into_their_runs() {
        let runs = parse(PROFILE).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].micros, 100.0);
        let names: Vec<_> = runs[1].nodes.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(names, ["conv1", "in1"], "in time order, fences left out");
        assert_eq!(runs[0].nodes[1].op, "InstanceNormRelu");
    }

    #[test]
    fn the_summary_is_the_mean_per_run_slowest_first() {
        let runs = parse(PROFILE).unwrap();
        let all = summarise(&runs);
        assert_eq!(all[0].node, "conv1");
        assert!((all[0].ms_per_run - 0.1).abs() < 1e-12);
        assert!((all[0].percent - 100.0 * 0.1 / 0.15).abs() < 1e-9);
        assert!((all[1].ms_per_run - 0.025).abs() < 1e-12);
        let second = summarise(&runs[1..]);
        assert!((second[0].ms_per_run - 0.14).abs() < 1e-12);
        assert!(summarise(&[]).is_empty());
    }

    #[test]
    fn other_json_is_refused_with_what_was_expected() {
        let e = parse(r#"{"traceEvents": []}"#).unwrap_err();
        assert!(e.contains("ONNX Runtime profile"), "{e}");
    }
}
