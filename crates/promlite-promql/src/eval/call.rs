//! Instant functions (math, time, clamping, sorting, `vector`/`scalar`, `absent`)
//! and the label functions (`label_replace`, `label_join`).

use hashbrown::HashSet;
use promlite_model::{Labels, LabelsBuilder, MatchOp, METRIC_NAME};

use super::annotations::Annotation;
use super::engine::{not_in_family, unwrap_parens, Ctx, Grid, Result, V};
use super::functions as f;
use super::selector::window;
use super::series::{merge_same_labels, Pts, Series};
use super::QueryError;
use crate::parser::ast::{Call, Expr, ExprKind, Span};
use crate::parser::functions::FunctionId;

impl Ctx<'_> {
    /// The instant, label, time and sorting functions.
    pub(super) fn eval_instant_call(&mut self, c: &Call, span: Span, g: Grid) -> Result<V> {
        use FunctionId as F;
        let id = c.func.id;
        let args = &c.args;
        match id {
            F::Time => Ok(V::Scalar(
                (0..g.n).map(|i| g.t(i) as f64 / 1000.0).collect(),
            )),
            F::Pi => Ok(V::Scalar(vec![std::f64::consts::PI; g.n])),
            // Prometheus 3.14's query-parameter functions (if the parser knows them).
            F::Start => Ok(V::Scalar(vec![self.qstart as f64 / 1000.0; g.n])),
            F::End => Ok(V::Scalar(vec![self.qend as f64 / 1000.0; g.n])),
            F::Step => Ok(V::Scalar(vec![self.qstep as f64 / 1000.0; g.n])),
            F::Range => Ok(V::Scalar(vec![
                (self.qend - self.qstart) as f64 / 1000.0;
                g.n
            ])),
            F::MinOf | F::MaxOf => {
                let a = self.eval_scalar(&args[0], g)?;
                let b = self.eval_scalar(&args[1], g)?;
                // Go's math.Min/math.Max: NaN wins, and -0 is below +0.
                let op = if id == F::MinOf { f::go_min } else { f::go_max };
                Ok(V::Scalar(
                    a.iter().zip(&b).map(|(&x, &y)| op(x, y)).collect(),
                ))
            }
            F::Vector => {
                let vals = self.eval_scalar(&args[0], g)?;
                Ok(V::Vector(vec![Series {
                    labels: Labels::empty(),
                    drop_name: false,
                    pts: vals
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i as u32, v))
                        .collect(),
                }]))
            }
            F::Scalar => {
                let s = self.eval_vector(&args[0], g)?;
                let mut cnt = vec![0u32; g.n];
                let mut val = vec![f64::NAN; g.n];
                for se in &s {
                    for &(i, v) in &se.pts {
                        cnt[i as usize] += 1;
                        val[i as usize] = v;
                    }
                }
                Ok(V::Scalar(
                    cnt.iter()
                        .zip(val)
                        .map(|(&c, v)| if c == 1 { v } else { f64::NAN })
                        .collect(),
                ))
            }
            F::Abs
            | F::Ceil
            | F::Floor
            | F::Exp
            | F::Sqrt
            | F::Ln
            | F::Log2
            | F::Log10
            | F::Sin
            | F::Cos
            | F::Tan
            | F::Asin
            | F::Acos
            | F::Atan
            | F::Sinh
            | F::Cosh
            | F::Tanh
            | F::Asinh
            | F::Acosh
            | F::Atanh
            | F::Deg
            | F::Rad
            | F::Sgn => {
                let func: fn(f64) -> f64 = match id {
                    F::Abs => f64::abs,
                    F::Ceil => f64::ceil,
                    F::Floor => f64::floor,
                    F::Exp => f64::exp,
                    F::Sqrt => f64::sqrt,
                    F::Ln => f64::ln,
                    F::Log2 => f64::log2,
                    F::Log10 => f64::log10,
                    F::Sin => f64::sin,
                    F::Cos => f64::cos,
                    F::Tan => f64::tan,
                    F::Asin => f64::asin,
                    F::Acos => f64::acos,
                    F::Atan => f64::atan,
                    F::Sinh => f64::sinh,
                    F::Cosh => f64::cosh,
                    F::Tanh => f64::tanh,
                    F::Asinh => f64::asinh,
                    F::Acosh => f64::acosh,
                    F::Atanh => f64::atanh,
                    F::Deg => |v| v * 180.0 / std::f64::consts::PI,
                    F::Rad => |v| v * std::f64::consts::PI / 180.0,
                    _ => f::sgn,
                };
                let s = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(merge_same_labels(self.map_series(s, func))?))
            }
            F::Round => {
                let s = self.eval_vector(&args[0], g)?;
                let to = match args.get(1) {
                    Some(a) => self.eval_scalar(a, g)?,
                    None => vec![1.0; g.n],
                };
                let out = self.map_series_step(s, |i, v| Some(f::round_to(v, to[i])));
                Ok(V::Vector(merge_same_labels(out)?))
            }
            F::Clamp | F::ClampMin | F::ClampMax => {
                let s = self.eval_vector(&args[0], g)?;
                let (lo, hi) = match id {
                    F::Clamp => (
                        self.eval_scalar(&args[1], g)?,
                        self.eval_scalar(&args[2], g)?,
                    ),
                    F::ClampMin => (self.eval_scalar(&args[1], g)?, vec![f64::INFINITY; g.n]),
                    _ => (vec![f64::NEG_INFINITY; g.n], self.eval_scalar(&args[1], g)?),
                };
                let out = self.map_series_step(s, |i, v| {
                    if hi[i] < lo[i] {
                        None
                    } else {
                        Some(f::clamp(v, lo[i], hi[i]))
                    }
                });
                Ok(V::Vector(merge_same_labels(out)?))
            }
            F::Timestamp => {
                let a = unwrap_parens(&args[0]);
                let s = if let ExprKind::VectorSelector(sel) = &a.kind {
                    self.eval_vector_selector(sel, g, true)?
                } else {
                    let s = self.eval_vector(a, g)?;
                    s.into_iter()
                        .map(|mut s| {
                            for p in &mut s.pts {
                                p.1 = g.t(p.0 as usize) as f64 / 1000.0;
                            }
                            s
                        })
                        .collect()
                };
                Ok(V::Vector(merge_same_labels(self.map_series(s, |v| v))?))
            }
            F::Minute
            | F::Hour
            | F::DayOfWeek
            | F::DayOfMonth
            | F::DayOfYear
            | F::DaysInMonth
            | F::Month
            | F::Year => {
                let func = move |v: f64| -> f64 {
                    let c = super::go_time::civil_of_go_float(v);
                    match id {
                        F::Minute => c.minute as f64,
                        F::Hour => c.hour as f64,
                        F::DayOfWeek => c.weekday as f64,
                        F::DayOfMonth => c.day as f64,
                        F::DayOfYear => c.yday as f64,
                        F::DaysInMonth => f::days_in_month(c.year, c.month) as f64,
                        F::Month => c.month as f64,
                        _ => c.year as f64,
                    }
                };
                if args.is_empty() {
                    return Ok(V::Vector(vec![Series {
                        labels: Labels::empty(),
                        drop_name: false,
                        pts: (0..g.n)
                            .map(|i| (i as u32, func(g.t(i) as f64 / 1000.0)))
                            .collect(),
                    }]));
                }
                let s = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(merge_same_labels(self.map_series(s, func))?))
            }
            F::Sort | F::SortDesc => {
                let mut s = self.eval_vector(&args[0], g)?;
                if self.instant {
                    let desc = id == F::SortDesc;
                    s.sort_by(|a, b| {
                        let x = a.pts.first().map_or(f64::NAN, |p| p.1);
                        let y = b.pts.first().map_or(f64::NAN, |p| p.1);
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                } else {
                    self.annotate(Annotation::SortInRangeQuery, span);
                }
                Ok(V::Vector(s))
            }
            F::SortByLabel | F::SortByLabelDesc => {
                let mut s = self.eval_vector(&args[0], g)?;
                let names: Vec<String> = args[1..]
                    .iter()
                    .map(|e| match &unwrap_parens(e).kind {
                        ExprKind::StringLiteral(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect();
                let desc = id == F::SortByLabelDesc;
                if !self.instant {
                    self.annotate(Annotation::SortInRangeQuery, span);
                    return Ok(V::Vector(s));
                }
                s.sort_by(|a, b| {
                    let mut ord = std::cmp::Ordering::Equal;
                    for n in &names {
                        let x = a.labels.get(n).unwrap_or("");
                        let y = b.labels.get(n).unwrap_or("");
                        if x != y {
                            ord = natural_cmp(x, y);
                            break;
                        }
                    }
                    let ord = ord.then_with(|| a.labels.cmp(&b.labels));
                    if desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
                Ok(V::Vector(s))
            }
            F::LabelReplace => self.label_replace(args, g),
            F::LabelJoin => self.label_join(args, g),
            F::Absent => {
                let s = self.eval_vector(&args[0], g)?;
                let mut has = vec![false; g.n];
                for se in &s {
                    for &(i, _) in &se.pts {
                        has[i as usize] = true;
                    }
                }
                Ok(absent_result(absent_labels(&args[0]), &has))
            }
            F::AbsentOverTime => {
                let rs = self.load_range(&args[0], g)?;
                let mut has = vec![false; g.n];
                for s in &rs.series {
                    let (mut lo, mut hi) = (0usize, 0usize);
                    for (i, &end) in rs.ends.iter().enumerate() {
                        let (a, b) = window(
                            &s.samples,
                            end.saturating_sub(rs.range),
                            end,
                            &mut lo,
                            &mut hi,
                        );
                        if b > a {
                            has[i] = true;
                        }
                    }
                }
                Ok(absent_result(absent_labels(&args[0]), &has))
            }
            _ => Err(not_in_family(c)),
        }
    }

    pub(super) fn label_replace(&mut self, args: &[Expr], g: Grid) -> Result<V> {
        let s = self.eval_vector(&args[0], g)?;
        let strarg = |e: &Expr| match &unwrap_parens(e).kind {
            ExprKind::StringLiteral(s) => s.clone(),
            _ => String::new(),
        };
        let dst = strarg(&args[1]);
        let repl = strarg(&args[2]);
        let src = strarg(&args[3]);
        let re_text = strarg(&args[4]);
        let re = promlite_model::compile_anchored_regex(&re_text).map_err(|_| {
            QueryError::exec(format!(
                "invalid regular expression in label_replace(): {re_text}"
            ))
        })?;
        if dst.is_empty() || !self.literal_is_utf8(&args[1]) {
            return Err(QueryError::exec(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let mut out = Vec::with_capacity(s.len());
        for mut se in s {
            let val = se.labels.get(&src).unwrap_or("");
            if let Some(caps) = re.captures(val) {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                set_output_label(&mut se, &dst, &res);
            }
            out.push(se);
        }
        Ok(V::Vector(merge_same_labels(out)?))
    }

    /// False when the string literal `e` was written with escapes that make it invalid
    /// UTF-8 (`"\xff"`): Prometheus keeps the raw bytes and its label-name check
    /// (UTF-8 validity in 3.x) rejects them; our lexer had to convert them lossily, so
    /// the check re-reads the literal's source text.
    pub(super) fn literal_is_utf8(&self, e: &Expr) -> bool {
        let e = unwrap_parens(e);
        match self.query.get(e.span.start..e.span.end) {
            Some(text) => crate::parser::lexer::quoted_literal_is_utf8(text),
            None => true,
        }
    }

    pub(super) fn label_join(&mut self, args: &[Expr], g: Grid) -> Result<V> {
        let s = self.eval_vector(&args[0], g)?;
        let strarg = |e: &Expr| match &unwrap_parens(e).kind {
            ExprKind::StringLiteral(s) => s.clone(),
            _ => String::new(),
        };
        let dst = strarg(&args[1]);
        let sep = strarg(&args[2]);
        let srcs: Vec<String> = args[3..].iter().map(strarg).collect();
        if dst.is_empty() || !self.literal_is_utf8(&args[1]) {
            return Err(QueryError::exec(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        for src in &srcs {
            if src.is_empty() {
                return Err(QueryError::exec(format!(
                    "invalid source label name in label_join(): {src}"
                )));
            }
        }
        let mut out = Vec::with_capacity(s.len());
        for mut se in s {
            let joined = srcs
                .iter()
                .map(|n| se.labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&sep);
            set_output_label(&mut se, &dst, &joined);
            out.push(se);
        }
        Ok(V::Vector(merge_same_labels(out)?))
    }
}

/// Natural ordering: runs of digits compare by numeric value, the rest bytewise.
pub(super) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x = &a[si..i];
            let y = &b[sj..j];
            let xt = &x[x.iter().position(|&c| c != b'0').unwrap_or(x.len())..];
            let yt = &y[y.iter().position(|&c| c != b'0').unwrap_or(y.len())..];
            let o = xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// Labels for `absent`/`absent_over_time` from the argument's matchers (§8.7).
pub(super) fn absent_labels(arg: &Expr) -> Labels {
    let a = unwrap_parens(arg);
    let sel = match &a.kind {
        ExprKind::VectorSelector(s) => s,
        ExprKind::MatrixSelector(ms) => &ms.selector,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    // Prometheus's rule: an equality matcher sets its label unless an equality matcher
    // for that name came before; every other matcher for the name deletes it. Only
    // equality matchers count as "came before".
    let mut set_once: HashSet<&str> = HashSet::new();
    for mt in &sel.matchers {
        if &*mt.name == METRIC_NAME {
            continue;
        }
        if mt.op == MatchOp::Equal && set_once.insert(&mt.name) {
            b.set(mt.name.clone(), mt.value.clone());
        } else {
            b.del(&mt.name);
        }
    }
    b.build()
}

/// Sets the destination label of `label_replace`/`label_join` (an empty value deletes
/// it). Writing `__name__` gives the series a name again, so it is no longer dropped.
pub(super) fn set_output_label(se: &mut Series, dst: &str, value: &str) {
    let mut b = se.labels.builder();
    b.set(dst, value);
    se.labels = b.build();
    if dst == METRIC_NAME {
        se.drop_name = false;
    }
}

/// The answer of `absent`/`absent_over_time`: one series with value 1 at every step
/// where the argument had nothing (`has[step]` false), or nothing at all.
pub(super) fn absent_result(labels: Labels, has: &[bool]) -> V {
    let pts: Pts = (0..has.len())
        .filter(|&i| !has[i])
        .map(|i| (i as u32, 1.0))
        .collect();
    V::Vector(if pts.is_empty() {
        Vec::new()
    } else {
        vec![Series {
            labels,
            drop_name: false,
            pts,
        }]
    })
}
