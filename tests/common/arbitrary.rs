//! A tiny stand-in for Magenta's arbitrary stylization networks, with the same interface (names,
//! NHWC shapes, [0,1] values), written with the app's ONNX protobuf types:
//! - predict: `style_image` [1,256,256,3] → mean colour [1,1,1,3] → ·W [3,100] → embedding;
//! - transform: `content_image` [1,384,384,3] and the embedding → sigmoid(4·(content − its mean
//!   colour) + emb·V): a contrast curve around the image's own mean (something an instance-normed
//!   network can learn) whose offset, the palette, the style sets (V = 0.02·Wᵀ: a red painting
//!   pushes the picture towards red).

#![allow(dead_code)]

use std::path::Path;

use prost::Message;
use stylecam::net::arbitrary::{
    CONTENT_INPUT, EMBEDDING, EMBEDDING_LEN, PREDICT_FILE, STYLE_INPUT, TRANSFORM_FILE,
};
use stylecam::net::onnx_proto::{
    attribute_type, tensor_shape_proto::dimension::Value as Dim, tensor_shape_proto::Dimension,
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, DATA_TYPE_FLOAT,
};

fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DATA_TYPE_FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Dim::DimValue(d)),
                            denotation: String::new(),
                        })
                        .collect(),
                }),
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

fn constant(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: DATA_TYPE_FLOAT,
        float_data: data,
        name: name.into(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op.into(),
        attribute: attrs,
        ..Default::default()
    }
}

/// `mean` = the mean colour `[1,1,1,3]` of an NHWC image.
fn mean_colour(image: &str) -> NodeProto {
    let axes = AttributeProto {
        name: "axes".into(),
        ints: vec![1, 2],
        r#type: attribute_type::INTS,
        ..Default::default()
    };
    node("ReduceMean", &[image], "mean", vec![axes])
}

fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        producer_name: "stylecam-test".into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// Embedding weights: each colour channel spreads over the 100 values with its own sign pattern.
fn w_predict() -> Vec<f32> {
    (0..3 * EMBEDDING_LEN)
        .map(|i| {
            if (i * 7 + i / EMBEDDING_LEN).is_multiple_of(3) {
                1.0
            } else {
                -0.5
            }
        })
        .collect()
}

fn predict() -> Vec<u8> {
    let graph = GraphProto {
        node: vec![
            mean_colour(STYLE_INPUT),
            node("MatMul", &["mean", "w"], EMBEDDING, vec![]),
        ],
        name: "tiny_predict".into(),
        initializer: vec![constant("w", &[3, EMBEDDING_LEN as i64], w_predict())],
        input: vec![value(STYLE_INPUT, &[1, 256, 256, 3])],
        output: vec![value(EMBEDDING, &[1, 1, 1, EMBEDDING_LEN as i64])],
        ..Default::default()
    };
    model(graph)
}

fn transform() -> Vec<u8> {
    // V = 0.02·Wᵀ: the offset is 0.02·colour·W·Wᵀ, so a red painting pushes towards red.
    let w = w_predict();
    let v: Vec<f32> = (0..EMBEDDING_LEN * 3)
        .map(|k| 0.02 * w[(k % 3) * EMBEDDING_LEN + k / 3])
        .collect();
    let graph = GraphProto {
        node: vec![
            node("MatMul", &[EMBEDDING, "v"], "offset", vec![]),
            mean_colour(CONTENT_INPUT),
            node("Sub", &[CONTENT_INPUT, "mean"], "centred", vec![]),
            node("Mul", &["centred", "four"], "scaled", vec![]),
            node("Add", &["scaled", "offset"], "logits", vec![]),
            node("Sigmoid", &["logits"], "stylized", vec![]),
        ],
        name: "tiny_transform".into(),
        initializer: vec![
            constant("v", &[EMBEDDING_LEN as i64, 3], v),
            constant("four", &[1], vec![4.0]),
        ],
        input: vec![
            value(CONTENT_INPUT, &[1, 384, 384, 3]),
            value(EMBEDDING, &[1, 1, 1, EMBEDDING_LEN as i64]),
        ],
        output: vec![value("stylized", &[1, 384, 384, 3])],
        ..Default::default()
    };
    model(graph)
}

/// Writes the two files into `dir` (created).
pub fn write_tiny_teacher(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(PREDICT_FILE), predict()).unwrap();
    std::fs::write(dir.join(TRANSFORM_FILE), transform()).unwrap();
}
