//! Binary operators: scalar/scalar, vector/scalar, vector/vector matching and
//! the set operators.

use std::hash::{Hash, Hasher};

use hashbrown::{HashMap, HashSet};
use promlite_model::{Labels, LabelsBuilder, METRIC_NAME};

use super::engine::{Ctx, Grid, Result, V};
use super::functions as f;
use super::series::{by_step, hash_labels, hasher, merge_lenient, merge_same_labels, Pts, Series};
use super::QueryError;
use crate::parser::ast::{BinaryExpr, BinaryOp, VectorMatchCardinality, VectorMatching};

impl Ctx<'_> {
    pub(super) fn eval_binary(&mut self, b: &BinaryExpr, g: Grid) -> Result<V> {
        let lhs = self.eval(&b.lhs, g)?;
        let rhs = self.eval(&b.rhs, g)?;
        let op = b.op;
        match (lhs, rhs) {
            (V::Scalar(l), V::Scalar(r)) => Ok(V::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&x, &y)| match scalar_op(op, x, y) {
                        OpResult::Value(v) => v,
                        OpResult::Cmp(c) => {
                            if c {
                                1.0
                            } else {
                                0.0
                            }
                        }
                    })
                    .collect(),
            )),
            (V::Vector(l), V::Scalar(r)) => self.vector_scalar(b, l, &r, false),
            (V::Scalar(l), V::Vector(r)) => self.vector_scalar(b, r, &l, true),
            (V::Vector(l), V::Vector(r)) => {
                let default_matching = VectorMatching {
                    card: if op.is_set_operator() {
                        VectorMatchCardinality::ManyToMany
                    } else {
                        VectorMatchCardinality::OneToOne
                    },
                    matching_labels: Vec::new(),
                    on: false,
                    include: Vec::new(),
                };
                let m = b.matching.as_ref().unwrap_or(&default_matching);
                match op {
                    BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => self.set_op(op, m, l, r, g),
                    _ => self.vector_vector(b, m, l, r, g),
                }
            }
            _ => Err(QueryError::exec(
                "binary expression must contain only scalar and instant vector types",
            )),
        }
    }

    pub(super) fn vector_scalar(
        &mut self,
        b: &BinaryExpr,
        vec: Vec<Series>,
        sc: &[f64],
        scalar_left: bool,
    ) -> Result<V> {
        let is_cmp = b.op.is_comparison();
        let drop = !is_cmp || b.return_bool;
        let mut out = Vec::with_capacity(vec.len());
        for s in vec {
            self.tick()?;
            let pts: Pts = s
                .pts
                .iter()
                .filter_map(|&(i, v)| {
                    let (x, y) = if scalar_left {
                        (sc[i as usize], v)
                    } else {
                        (v, sc[i as usize])
                    };
                    match scalar_op(b.op, x, y) {
                        OpResult::Value(r) => Some((i, r)),
                        OpResult::Cmp(c) => {
                            if b.return_bool {
                                Some((i, if c { 1.0 } else { 0.0 }))
                            } else if c {
                                Some((i, v))
                            } else {
                                None
                            }
                        }
                    }
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let (labels, dn) = if drop {
                let (l, dn) = self.drop_name(&s.labels);
                (l, dn || s.drop_name)
            } else {
                (s.labels, s.drop_name)
            };
            out.push(Series {
                labels,
                drop_name: dn,
                pts,
            });
        }
        Ok(V::Vector(if drop { merge_same_labels(out)? } else { out }))
    }

    pub(super) fn set_op(
        &mut self,
        op: BinaryOp,
        m: &VectorMatching,
        l: Vec<Series>,
        r: Vec<Series>,
        g: Grid,
    ) -> Result<V> {
        let lsig: Vec<u64> = l.iter().map(|s| signature(&s.labels, m)).collect();
        let rsig: Vec<u64> = r.iter().map(|s| signature(&s.labels, m)).collect();
        let lsteps = by_step(&l, g.n);
        let rsteps = by_step(&r, g.n);
        let mut lpts: Vec<Pts> = vec![Pts::new(); l.len()];
        let mut rpts: Vec<Pts> = vec![Pts::new(); r.len()];
        let mut set: HashSet<u64> = HashSet::new();
        for i in 0..g.n {
            self.tick()?;
            set.clear();
            match op {
                BinaryOp::And | BinaryOp::Unless => {
                    for &(si, _) in &rsteps[i] {
                        set.insert(rsig[si as usize]);
                    }
                    let want = op == BinaryOp::And;
                    for &(si, v) in &lsteps[i] {
                        if set.contains(&lsig[si as usize]) == want {
                            lpts[si as usize].push((i as u32, v));
                        }
                    }
                }
                _ => {
                    for &(si, v) in &lsteps[i] {
                        set.insert(lsig[si as usize]);
                        lpts[si as usize].push((i as u32, v));
                    }
                    for &(si, v) in &rsteps[i] {
                        if !set.contains(&rsig[si as usize]) {
                            rpts[si as usize].push((i as u32, v));
                        }
                    }
                }
            }
        }
        let mut out: Vec<Series> = Vec::new();
        for (s, pts) in l.into_iter().zip(lpts).chain(r.into_iter().zip(rpts)) {
            if !pts.is_empty() {
                out.push(Series {
                    labels: s.labels,
                    drop_name: s.drop_name,
                    pts,
                });
            }
        }
        Ok(V::Vector(merge_lenient(out)))
    }

    pub(super) fn vector_vector(
        &mut self,
        b: &BinaryExpr,
        m: &VectorMatching,
        l: Vec<Series>,
        r: Vec<Series>,
        g: Grid,
    ) -> Result<V> {
        let op = b.op;
        let is_cmp = op.is_comparison();
        let drop = !is_cmp || b.return_bool;
        let lsig: Vec<u64> = l.iter().map(|s| signature(&s.labels, m)).collect();
        let rsig: Vec<u64> = r.iter().map(|s| signature(&s.labels, m)).collect();
        let lsteps = by_step(&l, g.n);
        let rsteps = by_step(&r, g.n);
        // The "one" side and the "many" side.
        let swap = m.card == VectorMatchCardinality::OneToMany;
        let (one, one_sig, one_steps, many, many_sig, many_steps) = if swap {
            (&l, &lsig, &lsteps, &r, &rsig, &rsteps)
        } else {
            (&r, &rsig, &rsteps, &l, &lsig, &lsteps)
        };
        let one_side_name = if swap { "left" } else { "right" };
        let mut pair_out: HashMap<(u32, u32), usize> = HashMap::new();
        let mut out_by_labels: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut one_map: HashMap<u64, (u32, f64)> = HashMap::new();
        let mut matched_one: HashSet<u64> = HashSet::new();
        let mut step_labels: HashSet<usize> = HashSet::new();
        for i in 0..g.n {
            self.tick()?;
            if one_steps[i].is_empty() || many_steps[i].is_empty() {
                continue;
            }
            one_map.clear();
            for &(si, v) in &one_steps[i] {
                let sig = one_sig[si as usize];
                if let Some(&(prev, _)) = one_map.get(&sig) {
                    let a = &one[prev as usize].labels;
                    let c = &one[si as usize].labels;
                    let (x, y) = if a <= c { (a, c) } else { (c, a) };
                    return Err(QueryError::exec(format!(
                        "found duplicate series for the match group {} on the {one_side_name} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        go_labels(&match_labels(a, m)),
                        go_labels(x),
                        go_labels(y)
                    )));
                }
                one_map.insert(sig, (si, v));
            }
            matched_one.clear();
            step_labels.clear();
            for &(mi, mv) in &many_steps[i] {
                let sig = many_sig[mi as usize];
                let Some(&(oi, ov)) = one_map.get(&sig) else {
                    continue;
                };
                if m.card == VectorMatchCardinality::OneToOne && !matched_one.insert(sig) {
                    return Err(QueryError::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                let (lv, rv) = if swap { (ov, mv) } else { (mv, ov) };
                let value = match scalar_op(op, lv, rv) {
                    OpResult::Value(v) => v,
                    OpResult::Cmp(c) => {
                        if b.return_bool {
                            if c {
                                1.0
                            } else {
                                0.0
                            }
                        } else if c {
                            lv
                        } else {
                            continue;
                        }
                    }
                };
                let key = (mi, oi);
                let oidx = match pair_out.get(&key) {
                    Some(&o) => o,
                    None => {
                        let ms = &many[mi as usize];
                        let os = &one[oi as usize];
                        let (labels, dn) = self.result_labels(ms, os, m, drop);
                        let o = *out_by_labels.entry(labels.clone()).or_insert_with(|| {
                            out.push(Series {
                                labels,
                                drop_name: dn,
                                pts: Pts::new(),
                            });
                            out.len() - 1
                        });
                        pair_out.insert(key, o);
                        o
                    }
                };
                if !step_labels.insert(oidx) {
                    return Err(QueryError::exec(
                        if m.card == VectorMatchCardinality::OneToOne {
                            "vector cannot contain metrics with the same labelset"
                        } else {
                            "multiple matches for labels: grouping labels must ensure unique matches"
                        },
                    ));
                }
                out[oidx].pts.push((i as u32, value));
            }
        }
        out.retain(|s| !s.pts.is_empty());
        Ok(V::Vector(out))
    }

    pub(super) fn result_labels(
        &self,
        many: &Series,
        one: &Series,
        m: &VectorMatching,
        drop: bool,
    ) -> (Labels, bool) {
        let mut b: LabelsBuilder = many.labels.builder();
        let mut dn = many.drop_name;
        if drop {
            if self.opts.delayed_name_removal {
                dn = true;
            } else {
                b.del(METRIC_NAME);
            }
        }
        if m.card == VectorMatchCardinality::OneToOne {
            if m.on {
                let keep: Vec<String> = many
                    .labels
                    .iter()
                    .filter(|l| !m.matching_labels.iter().any(|n| **n == *l.name))
                    .map(|l| l.name.to_string())
                    .collect();
                for k in keep {
                    b.del(&k);
                }
            } else {
                for n in &m.matching_labels {
                    b.del(n);
                }
            }
        }
        for n in &m.include {
            match one.labels.get(n) {
                Some(v) => {
                    b.set(n.as_str(), v);
                }
                None => {
                    b.del(n);
                }
            }
        }
        let labels = b.build();
        if !labels.has(METRIC_NAME) {
            dn = false;
        }
        (labels, dn)
    }
}

pub(super) enum OpResult {
    Value(f64),
    Cmp(bool),
}

pub(super) fn scalar_op(op: BinaryOp, x: f64, y: f64) -> OpResult {
    use f::{ArithOp as A, CmpOp as C};
    let a = |o| OpResult::Value(f::arith(o, x, y));
    let c = |o| OpResult::Cmp(f::compare(o, x, y));
    match op {
        BinaryOp::Add => a(A::Add),
        BinaryOp::Sub => a(A::Sub),
        BinaryOp::Mul => a(A::Mul),
        BinaryOp::Div => a(A::Div),
        BinaryOp::Mod => a(A::Mod),
        BinaryOp::Pow => a(A::Pow),
        BinaryOp::Atan2 => a(A::Atan2),
        BinaryOp::Eql => c(C::Eq),
        BinaryOp::Neq => c(C::Ne),
        BinaryOp::Gtr => c(C::Gt),
        BinaryOp::Lss => c(C::Lt),
        BinaryOp::Gte => c(C::Ge),
        BinaryOp::Lte => c(C::Le),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => OpResult::Value(f64::NAN),
    }
}

pub(super) fn signature(labels: &Labels, m: &VectorMatching) -> u64 {
    if m.on {
        // Missing labels hash as empty values: iterate the on-list in sorted order.
        let mut names: Vec<&String> = m.matching_labels.iter().collect();
        names.sort();
        names.dedup();
        let mut h = hasher();
        for n in names {
            n.hash(&mut h);
            0xffu8.hash(&mut h);
            labels.get(n).unwrap_or("").hash(&mut h);
            0xfeu8.hash(&mut h);
        }
        h.finish()
    } else {
        hash_labels(labels.iter().filter(|l| {
            &*l.name != METRIC_NAME && !m.matching_labels.iter().any(|n| **n == *l.name)
        }))
    }
}

/// Labels as Go's `labels.Labels.String()` prints them: `{a="b", c="d"}`,
/// the metric name included as `__name__`.
pub(super) fn go_labels(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&x.name);
        s.push('=');
        s.push_str(&format!("{:?}", &*x.value));
    }
    s.push('}');
    s
}

pub(super) fn match_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        labels.filter(|l| m.matching_labels.iter().any(|n| **n == *l.name))
    } else {
        labels.filter(|l| {
            &*l.name != METRIC_NAME && !m.matching_labels.iter().any(|n| **n == *l.name)
        })
    }
}
