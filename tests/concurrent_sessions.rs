//! Sessions created from many threads at once, as the live view's workers do. ONNX Runtime
//! registers stylecam's operator domain in a process-wide table without a lock the first time a
//! session uses it; the engine serialises session creation. This test is alone in its binary so
//! that its sessions are the process's first.

use stylecam::engine::{CpuGraph, DeviceChoice, EngineOptions, Stylizer};
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;

#[test]
fn the_first_sessions_of_a_process_open_from_many_threads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(16, 1);
    let bytes = write_model(&arch, &random_weights(&arch, 9), &ModelMetadata::new("t")).unwrap();
    let path = dir.path().join("m.onnx");
    std::fs::write(&path, bytes).unwrap();
    let opts = EngineOptions {
        intra_threads: Some(1),
        cpu_graph: CpuGraph::Winograd,
        ..EngineOptions::default()
    };
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    Stylizer::load(&path, DeviceChoice::Cpu, &opts).map(|st| st.graph().to_string())
                })
            })
            .collect();
        for h in handles {
            let graph = h.join().unwrap().unwrap();
            assert_eq!(graph, "lowered tail, winograd body");
        }
    });
}
