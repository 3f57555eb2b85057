//! Frame sinks: where frames go.

pub mod recorder;
