//! The CPU graph lowering (`--cpu-graph`, `stylecam::net::graph`): whichever form ONNX Runtime
//! runs, a user gets the same frames as the independent f64 reference pipeline
//! (`common::reference`), at awkward sizes and for thin and wide networks; models stylecam did
//! not write run as stored.

mod common;

use std::path::{Path, PathBuf};

use common::reference::reference_stylize;
use image::{Rgb, RgbImage};
use stylecam::engine::{CpuGraph, DeviceChoice, EngineOptions, Stylizer};
use stylecam::net::onnx::{lower_model, random_weights, write_model, ModelMetadata, Weights};
use stylecam::net::ImfwArch;

fn opts(cpu_graph: CpuGraph) -> EngineOptions {
    EngineOptions {
        intra_threads: Some(2),
        cpu_graph,
        ..EngineOptions::default()
    }
}

fn model(dir: &Path, arch: ImfwArch, seed: u64) -> (PathBuf, Weights) {
    let weights = random_weights(&arch, seed);
    let bytes = write_model(&arch, &weights, &ModelMetadata::new("lowering test")).unwrap();
    let path = dir.join(format!("{}.onnx", arch.label()));
    std::fs::write(&path, bytes).unwrap();
    (path, weights)
}

fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 37 + y * 11) as u8,
            (x * 5 + y * 41 + 60) as u8,
            ((x ^ y) * 23 + 17) as u8,
        ])
    })
}

fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap()
}

#[test]
fn every_cpu_graph_gives_the_reference_frames() {
    let dir = tempfile::tempdir().unwrap();
    // Thin (the head applies under auto), odd width, and wider networks.
    for (arch, seed) in [
        (ImfwArch::new(8, 1), 3),
        (ImfwArch::new(5, 2), 4),
        (ImfwArch::new(16, 1), 5),
    ] {
        let (path, weights) = model(dir.path(), arch, seed);
        for (w, h) in [(37, 23), (8, 8), (5, 5), (2, 9), (64, 48)] {
            let frame = pattern(w, h);
            let want = reference_stylize(&arch, &weights, &frame);
            // A random net is not flat: a broken rewrite would not match by chance.
            let (lo, hi) = want
                .as_raw()
                .iter()
                .fold((255u8, 0u8), |(l, h), &v| (l.min(v), h.max(v)));
            assert!(hi - lo > 20, "{} {w}x{h}: reference is flat", arch.label());
            for graph in [
                CpuGraph::Reference,
                CpuGraph::Tail,
                CpuGraph::HeadTail,
                CpuGraph::Winograd,
                CpuGraph::Auto,
            ] {
                let mut st = Stylizer::load(&path, DeviceChoice::Cpu, &opts(graph)).unwrap();
                let got = st.stylize(&frame).unwrap();
                let d = max_diff(&got, &want);
                assert!(
                    d <= 1,
                    "{} {w}x{h} {graph:?} ({} graph): frames differ by {d} levels",
                    arch.label(),
                    st.graph()
                );
            }
        }
    }
}

#[test]
fn lowered_graphs_written_with_image_ends_are_ordinary_image_models() {
    // The engine feeds its own lowered graphs phase-split tensors; a lowered graph written to a
    // file keeps the [N, 3, H, W] interface and runs anywhere as stored.
    use stylecam::net::graph::{GraphForm, Lowering};
    use stylecam::net::onnx::write_model_as;
    let dir = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(8, 1);
    let weights = random_weights(&arch, 6);
    let frame = pattern(37, 23);
    let want = reference_stylize(&arch, &weights, &frame);
    let winograd = GraphForm::lowered(Lowering::TAIL.with_winograd_body());
    let meta = ModelMetadata::new("winograd");
    let err = write_model_as(&arch, &weights, &meta, winograd).unwrap_err();
    assert!(err.to_string().contains("stylecam's own ONNX"), "{err}");
    for lowering in [Lowering::TAIL, Lowering::FULL] {
        let form = GraphForm::lowered(lowering);
        let meta = ModelMetadata::new("image ends");
        let bytes = write_model_as(&arch, &weights, &meta, form).unwrap();
        let path = dir.path().join(format!("{}.onnx", lowering.describe()));
        std::fs::write(&path, bytes).unwrap();
        let mut st = Stylizer::load(&path, DeviceChoice::Cpu, &opts(CpuGraph::Reference)).unwrap();
        assert_eq!(st.input_shape()[1], 3);
        let d = max_diff(&st.stylize(&frame).unwrap(), &want);
        assert!(d <= 1, "{}: frames differ by {d} levels", form.describe());
    }
}

#[test]
fn the_stylizer_reports_which_graph_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (thin, _) = model(dir.path(), ImfwArch::new(8, 1), 1);
    let (seed_like, _) = model(dir.path(), ImfwArch::new(32, 1), 2);
    let load = |p: &Path, g| Stylizer::load(p, DeviceChoice::Cpu, &opts(g)).unwrap();
    assert_eq!(load(&thin, CpuGraph::Auto).graph(), "lowered head+tail");
    // The Winograd body is the default where its AVX-512 kernels run.
    let seed_default = if stylecam::engine::winograd::Conv3x3::fast_on_this_cpu() {
        "lowered tail, winograd body"
    } else {
        "lowered tail"
    };
    assert_eq!(load(&seed_like, CpuGraph::Auto).graph(), seed_default);
    assert_eq!(
        load(&thin, CpuGraph::Winograd).graph(),
        "lowered head+tail, winograd body"
    );
    assert_eq!(load(&thin, CpuGraph::Tail).graph(), "lowered tail");
    assert_eq!(load(&thin, CpuGraph::Reference).graph(), "stored");
}

#[test]
fn models_stylecam_did_not_write_run_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    // A graph-only model (identity), as a foreign export would be.
    let identity = common::fixtures::identity_model_dims(1, &[Some(1), Some(3), None, None]);
    assert!(lower_model(&identity, None).is_err());
    let path = dir.path().join("identity.onnx");
    std::fs::write(&path, &identity).unwrap();
    let mut st = Stylizer::load(&path, DeviceChoice::Cpu, &opts(CpuGraph::Auto)).unwrap();
    assert_eq!(st.graph(), "stored");
    let frame = pattern(13, 7);
    assert!(max_diff(&st.stylize(&frame).unwrap(), &frame) <= 1);
}

#[test]
fn a_stylecam_model_with_an_edited_graph_is_not_lowered() {
    use prost::Message;
    use stylecam::net::onnx_proto::ModelProto;
    let arch = ImfwArch::new(4, 1);
    let bytes = write_model(&arch, &random_weights(&arch, 9), &ModelMetadata::new("t")).unwrap();
    assert!(lower_model(&bytes, None).is_ok());
    // Same metadata and weights, but someone changed an operator: the rewrite must not
    // silently replace their graph with ours.
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let relu = graph.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
    relu.op_type = "Sigmoid".into();
    let edited = m.encode_to_vec();
    let why = lower_model(&edited, None).unwrap_err();
    assert!(why.contains("differs from the reference"), "{why}");
}

#[test]
fn the_fp16_form_keeps_instance_norm_in_float32_and_the_frames_close() {
    use prost::Message;
    use stylecam::net::graph::{GraphForm, Lowering};
    use stylecam::net::onnx::write_model_as;
    use stylecam::net::onnx_proto::{ModelProto, DATA_TYPE_FLOAT, DATA_TYPE_FLOAT16};
    let dir = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(8, 1);
    let weights = random_weights(&arch, 12);
    for lowering in [Lowering::NONE, Lowering::FULL] {
        let form = GraphForm {
            lowering,
            fp16: true,
            int8: false,
        };
        let bytes = write_model_as(&arch, &weights, &ModelMetadata::new("fp16"), form).unwrap();
        let m = ModelProto::decode(bytes.as_slice()).unwrap();
        let g = m.graph.as_ref().unwrap();
        let dtype = |name: &str| {
            g.initializer
                .iter()
                .find(|t| t.name == name)
                .unwrap()
                .data_type
        };
        assert_eq!(
            dtype("in1.weight"),
            DATA_TYPE_FLOAT,
            "norm parameters stay float32"
        );
        let conv_weight = if lowering.space_to_depth_head {
            "conv1.phase_weight"
        } else {
            "conv1.weight"
        };
        assert_eq!(dtype(conv_weight), DATA_TYPE_FLOAT16);
        // Every instance norm reads a tensor cast to float32 just before it.
        for (i, n) in g.node.iter().enumerate() {
            if n.op_type == "InstanceNormalization" {
                let prev = &g.node[i - 1];
                assert_eq!(prev.op_type, "Cast", "{} is not fed by a Cast", n.name);
                assert_eq!(prev.output[0], n.input[0]);
            }
        }
        // The interface stays float32 and the frames stay close to the float32 reference.
        let path = dir
            .path()
            .join(format!("fp16-{}.onnx", lowering.describe()));
        std::fs::write(&path, &bytes).unwrap();
        let mut st = Stylizer::load(&path, DeviceChoice::Cpu, &opts(CpuGraph::Auto)).unwrap();
        let frame = pattern(40, 28);
        let want = reference_stylize(&arch, &weights, &frame);
        let d = max_diff(&st.stylize(&frame).unwrap(), &want);
        assert!(
            d <= 6,
            "{}: fp16 frames differ by {d} levels",
            form.describe()
        );
    }
}
