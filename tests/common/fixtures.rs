//! Tiny hand-built ONNX models with the wrong interface, for the engine's validation errors.
//!
//! Each is a single `Identity` node from `input` to `output` whose declared element type and
//! shape are chosen by the test; ONNX Runtime loads them fine, so only stylecam's own
//! interface check can reject them.
#![allow(dead_code)]

use prost::Message;
use stylecam::net::onnx_proto::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

fn value(name: &str, elem_type: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .enumerate()
                        .map(|(i, d)| Dimension {
                            value: Some(match d {
                                Some(v) => dimension::Value::DimValue(*v),
                                None => dimension::Value::DimParam(format!("d{i}")),
                            }),
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

/// `output = Identity(input)` with the given ONNX element type code (1 = float32, 7 = int64)
/// and fixed dims on both sides.
pub fn identity_model(elem_type: i32, dims: &[i64]) -> Vec<u8> {
    let dims: Vec<Option<i64>> = dims.iter().map(|&d| Some(d)).collect();
    identity_model_dims(elem_type, &dims)
}

/// Like [`identity_model`], with `None` for a dynamic (symbolic) dimension.
pub fn identity_model_dims(elem_type: i32, dims: &[Option<i64>]) -> Vec<u8> {
    let node = NodeProto {
        input: vec!["input".into()],
        output: vec!["output".into()],
        name: "id".into(),
        op_type: "Identity".into(),
        ..Default::default()
    };
    one_node_model(
        node,
        value("input", elem_type, dims),
        value("output", elem_type, dims),
    )
}

/// An opset-17 model of the single `node` from `input` to `output`.
fn one_node_model(node: NodeProto, input: ValueInfoProto, output: ValueInfoProto) -> Vec<u8> {
    let model = ModelProto {
        ir_version: 8,
        producer_name: "stylecam-tests".into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            name: node.name.clone(),
            node: vec![node],
            input: vec![input],
            output: vec![output],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

/// `output = Concat(input, input, axis)`: a float32 `[N, 3, H, W]` model (all dims dynamic)
/// whose output is twice the input along `axis`, so its interface looks right until it runs.
pub fn concat_model(axis: i64) -> Vec<u8> {
    use stylecam::net::onnx_proto::AttributeProto;
    let dims = [None, Some(3), None, None];
    let node = NodeProto {
        input: vec!["input".into(), "input".into()],
        output: vec!["output".into()],
        name: "twice".into(),
        op_type: "Concat".into(),
        attribute: vec![AttributeProto {
            name: "axis".into(),
            i: Some(axis),
            r#type: 2, // INT
            ..Default::default()
        }],
        ..Default::default()
    };
    one_node_model(node, value("input", 1, &dims), value("output", 1, &dims))
}
