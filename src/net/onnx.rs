//! ONNX writer: filled in by the net/onnx work.
