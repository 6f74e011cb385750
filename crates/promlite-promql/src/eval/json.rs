//! [`Value`] and [`QueryResult`] as the Prometheus HTTP API's `data` object:
//! `{"resultType": "...", "result": ...}`, timestamps in seconds and values as
//! Go prints them.

use promlite_model::{format_value, Labels};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{QueryResult, RangeSeries, Value, VectorSample};

/// Serializes as the Prometheus HTTP API `data` object (same as [`Value`]).
impl Serialize for QueryResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

struct TsVal<'a>(i64, &'a str);

impl Serialize for TsVal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        if self.0 % 1000 == 0 {
            seq.serialize_element(&(self.0 / 1000))?;
        } else {
            seq.serialize_element(&(self.0 as f64 / 1000.0))?;
        }
        seq.serialize_element(self.1)?;
        seq.end()
    }
}

struct Metric<'a>(&'a Labels);

impl Serialize for Metric<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in self.0.iter() {
            m.serialize_entry(&*l.name, &*l.value)?;
        }
        m.end()
    }
}

struct VecElem<'a>(&'a VectorSample);

impl Serialize for VecElem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("metric", &Metric(&self.0.labels))?;
        m.serialize_entry("value", &TsVal(self.0.t, &format_value(self.0.v)))?;
        m.end()
    }
}

struct MatElem<'a>(&'a RangeSeries);

impl Serialize for MatElem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let vals: Vec<(i64, String)> = self
            .0
            .samples
            .iter()
            .map(|p| (p.t, format_value(p.v)))
            .collect();
        let vals: Vec<TsVal<'_>> = vals.iter().map(|(t, v)| TsVal(*t, v)).collect();
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("metric", &Metric(&self.0.labels))?;
        m.serialize_entry("values", &vals)?;
        m.end()
    }
}

/// Serializes as the Prometheus HTTP API `data` object:
/// `{"resultType": "...", "result": ...}`.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match self {
            Value::Scalar { t, v } => {
                m.serialize_entry("resultType", "scalar")?;
                m.serialize_entry("result", &TsVal(*t, &format_value(*v)))?;
            }
            Value::String { t, s } => {
                m.serialize_entry("resultType", "string")?;
                m.serialize_entry("result", &TsVal(*t, s))?;
            }
            Value::Vector(v) => {
                m.serialize_entry("resultType", "vector")?;
                let els: Vec<VecElem<'_>> = v.iter().map(VecElem).collect();
                m.serialize_entry("result", &els)?;
            }
            Value::Matrix(v) => {
                m.serialize_entry("resultType", "matrix")?;
                let els: Vec<MatElem<'_>> = v.iter().map(MatElem).collect();
                m.serialize_entry("result", &els)?;
            }
        }
        m.end()
    }
}
