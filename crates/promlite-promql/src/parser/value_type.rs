//! The static types of PromQL expressions. A module of its own so that the AST
//! and the function table both depend on it rather than on each other.

use std::fmt;

/// The four PromQL value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float.
    Scalar,
    /// A set of series with one sample each (Prometheus "instant vector").
    Vector,
    /// A set of series with a range of samples each (Prometheus "range vector").
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name Prometheus uses in error messages (`"instant vector"` etc.).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
