//! Accessors on [`Value`], so that a caller who knows what a query returns
//! reads it without a `let … else { panic!() }`.
//!
//! ```
//! use promlite_model::VecStorage;
//! use promlite_promql::{Engine, EngineOptions};
//!
//! let engine = Engine::new(EngineOptions::default());
//! let store = VecStorage::default();
//! let r = engine.instant_query(&store, "1 + 1", 0)?;
//! assert_eq!(r.value.as_scalar(), Some(2.0));
//! assert!(r.value.as_vector().is_none());
//! let r = engine.instant_query(&store, "vector(3)", 0)?;
//! assert_eq!(r.value.as_vector().map(|v| v[0].v), Some(3.0));
//! # Ok::<(), promlite_promql::QueryError>(())
//! ```

use crate::eval::{RangeSeries, Value, VectorSample};

impl Value {
    /// The samples of an instant vector; `None` for any other type.
    pub fn as_vector(&self) -> Option<&[VectorSample]> {
        match self {
            Value::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// The series of a range vector (a range query's result); `None` for any
    /// other type.
    pub fn as_matrix(&self) -> Option<&[RangeSeries]> {
        match self {
            Value::Matrix(m) => Some(m),
            _ => None,
        }
    }

    /// The value of a scalar; `None` for any other type.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar { v, .. } => Some(*v),
            _ => None,
        }
    }

    /// The text of a string value; `None` for any other type.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String { s, .. } => Some(s),
            _ => None,
        }
    }

    /// The instant vector, owned; `Err(self)` for any other type.
    ///
    /// # Errors
    /// The value itself when it is not a vector.
    pub fn into_vector(self) -> Result<Vec<VectorSample>, Value> {
        match self {
            Value::Vector(v) => Ok(v),
            other => Err(other),
        }
    }

    /// The range vector, owned; `Err(self)` for any other type.
    ///
    /// # Errors
    /// The value itself when it is not a matrix.
    pub fn into_matrix(self) -> Result<Vec<RangeSeries>, Value> {
        match self {
            Value::Matrix(m) => Ok(m),
            other => Err(other),
        }
    }

    /// The type's name as Prometheus's API writes it in `resultType`:
    /// `scalar`, `string`, `vector` or `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_accessor_answers_only_its_type() {
        let s = Value::Scalar { t: 0, v: 1.5 };
        let st = Value::String {
            t: 0,
            s: "x".into(),
        };
        let v = Value::Vector(Vec::new());
        let m = Value::Matrix(Vec::new());
        assert_eq!(
            [&s, &st, &v, &m].map(|x| (
                x.as_scalar().is_some(),
                x.as_str().is_some(),
                x.as_vector().is_some(),
                x.as_matrix().is_some()
            )),
            [
                (true, false, false, false),
                (false, true, false, false),
                (false, false, true, false),
                (false, false, false, true)
            ]
        );
        assert_eq!(s.as_scalar(), Some(1.5));
        assert_eq!(st.as_str(), Some("x"));
        assert!(v.clone().into_vector().is_ok());
        assert_eq!(m.clone().into_vector(), Err(m.clone()));
        assert!(m.into_matrix().is_ok());
        assert_eq!(
            [&s, &st, &v].map(Value::type_name),
            ["scalar", "string", "vector"]
        );
    }
}
