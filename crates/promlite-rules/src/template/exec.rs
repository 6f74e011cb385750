//! Executing a parsed template: Go's `text/template` evaluation rules
//! (truth, field chains on maps with `missingkey=zero`, pipelines passing the
//! previous result as the last argument, lazy `and`/`or`), bounded by [`Limits`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::funcs::{self, Param};
use super::parse::{Arg, Cmd, Node, Num, Pipe};
use super::{printf, QueryFn, Template, TemplateError};

/// A template value (Go's dynamic values as Prometheus's templates see them).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// An absent value (prints `<no value>`).
    Missing,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `float64`.
    Float(f64),
    /// `string`.
    Str(String),
    /// `map[string]string` (labels).
    Map(Arc<BTreeMap<String, String>>),
    /// `map[string]interface{}` (`args`).
    AnyMap(Arc<BTreeMap<String, Value>>),
    /// The template data struct, fields in order.
    Struct(Arc<Vec<(String, Value)>>),
    /// A query sample (`*template.sample`: `.Labels`, `.Value`).
    Sample(Arc<Sample>),
    /// A query result (`template.queryResult`).
    Samples(Arc<Vec<Arc<Sample>>>),
}

/// One query result sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

impl Value {
    /// Go's type name, for error texts.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil | Value::Missing => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::AnyMap(_) => "map[string]interface {}",
            Value::Struct(_) => "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
            Value::Sample(_) => "*template.sample",
            Value::Samples(_) => "template.queryResult",
        }
    }

    /// Go's truth: false, 0, nil and empty strings, maps and slices are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil | Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::AnyMap(m) => !m.is_empty(),
            Value::Samples(s) => !s.is_empty(),
            Value::Struct(_) | Value::Sample(_) => true,
        }
    }

    /// Go's `fmt.Sprint` of the value.
    pub fn go_string(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Missing => "<no value>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => printf::format_v_float(*f),
            Value::Str(s) => s.clone(),
            Value::Map(m) => {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::AnyMap(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.go_string()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Struct(fs) => {
                let parts: Vec<String> = fs.iter().map(|(_, v)| v.go_string()).collect();
                format!("{{{}}}", parts.join(" "))
            }
            Value::Sample(s) => sample_string(s),
            Value::Samples(v) => {
                let parts: Vec<String> = v.iter().map(|s| sample_string(s)).collect();
                format!("[{}]", parts.join(" "))
            }
        }
    }
}

fn sample_string(s: &Sample) -> String {
    format!(
        "&{{{} {}}}",
        Value::Map(Arc::new(s.labels.clone())).go_string(),
        printf::format_v_float(s.value)
    )
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    t: &'a Template,
    q: &'a dyn QueryFn,
    vars: Vec<(String, Value)>,
    steps: usize,
    out: String,
}

pub(crate) fn execute(
    t: &Template,
    data: &Value,
    q: &dyn QueryFn,
) -> Result<String, TemplateError> {
    let mut ex = Exec {
        t,
        q,
        vars: vec![("$".to_string(), data.clone())],
        steps: 0,
        out: String::new(),
    };
    ex.list(&t.nodes, data)?;
    Ok(ex.out)
}

type R<T> = Result<T, TemplateError>;

impl Exec<'_> {
    /// Go's `ErrorContext`: `NAME:LINE:COL` with a 0-based byte column.
    fn err_at(&self, pos: usize, ctx: &str, msg: &str) -> TemplateError {
        let src = &self.t.src[..pos.min(self.t.src.len())];
        let line = 1 + src.matches('\n').count();
        let col = match src.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        let ctx = if ctx.chars().count() > 20 {
            format!("{}...", ctx.chars().take(20).collect::<String>())
        } else {
            ctx.to_string()
        };
        let name = &self.t.name;
        TemplateError::exec(format!(
            "template: {name}:{line}:{col}: executing \"{name}\" at <{ctx}>: {msg}"
        ))
    }

    fn step(&mut self, pos: usize) -> R<()> {
        self.steps += 1;
        if self.steps > self.t.limits.max_steps {
            return Err(self.err_at(
                pos,
                "",
                &format!(
                    "template exceeded {} evaluation steps",
                    self.t.limits.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize) -> R<()> {
        if self.out.len() + s.len() > self.t.limits.max_output_bytes {
            return Err(self.err_at(
                pos,
                "",
                &format!(
                    "template output exceeds {} bytes",
                    self.t.limits.max_output_bytes
                ),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        for n in nodes {
            match self.node(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        let mark = self.vars.len();
        let r = self.list(nodes, dot);
        self.vars.truncate(mark);
        r
    }

    fn node(&mut self, n: &Node, dot: &Value) -> R<Flow> {
        match n {
            Node::Text(s) => {
                self.step(0)?;
                self.write(s, 0)?;
            }
            Node::Action(p) => {
                let v = self.pipe(p, dot)?;
                if p.decl.is_empty() {
                    let s = v.go_string();
                    self.write(&s, p.pos)?;
                }
            }
            Node::If(p, body, els) | Node::With(p, body, els) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot)?;
                let is_with = matches!(n, Node::With(..));
                let r = if v.truth() {
                    let d = if is_with { v } else { dot.clone() };
                    self.scoped(body, &d)
                } else if let Some(e) = els {
                    self.scoped(e, dot)
                } else {
                    Ok(Flow::Normal)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(p, body, els) => return self.range(p, body, els.as_deref(), dot),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, p: &Pipe, body: &[Node], els: Option<&[Node]>, dot: &Value) -> R<Flow> {
        let mark = self.vars.len();
        let decl = p.decl.clone();
        let plain = Pipe {
            decl: Vec::new(),
            ..p.clone()
        };
        let v = self.pipe(&plain, dot)?;
        // Integers (Go 1.22's `range N`) are counted, never materialized.
        let (items, count): (Vec<(Value, Value)>, i64) = match &v {
            Value::Map(m) => (
                m.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone())))
                    .collect(),
                0,
            ),
            Value::AnyMap(m) => (
                m.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                    .collect(),
                0,
            ),
            Value::Samples(s) => (
                s.iter()
                    .enumerate()
                    .map(|(i, s)| (Value::Int(i as i64), Value::Sample(s.clone())))
                    .collect(),
                0,
            ),
            Value::Int(n) => (Vec::new(), (*n).max(0)),
            Value::Nil | Value::Missing => (Vec::new(), 0),
            other => {
                return Err(self.err_at(
                    p.pos,
                    &pipe_string(&plain),
                    &format!("range can't iterate over {}", other.go_string()),
                ))
            }
        };
        let n = if count > 0 {
            count as usize
        } else {
            items.len()
        };
        if n == 0 {
            let r = match els {
                Some(e) => self.scoped(e, dot),
                None => Ok(Flow::Normal),
            };
            self.vars.truncate(mark);
            return r.map(|_| Flow::Normal);
        }
        for i in 0..n {
            self.step(p.pos)?;
            let (k, e) = match items.get(i) {
                Some(kv) => kv.clone(),
                None => (Value::Int(i as i64), Value::Int(i as i64)),
            };
            let m2 = self.vars.len();
            match decl.len() {
                1 => self.set_var(&decl[0], e.clone(), p.assign),
                2 => {
                    self.set_var(&decl[0], k, p.assign);
                    self.set_var(&decl[1], e.clone(), p.assign);
                }
                _ => {}
            }
            let f = self.scoped(body, &e)?;
            if !p.assign {
                self.vars.truncate(m2);
            }
            if let Flow::Break = f {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> R<Value> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            self.step(c.pos)?;
            last = Some(self.cmd(c, dot, last)?);
        }
        let v = last.unwrap_or(Value::Missing);
        if let Some(name) = p.decl.first() {
            self.set_var(name, v.clone(), p.assign);
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, fin: Option<Value>) -> R<Value> {
        let (pos0, first) = &c.args[0];
        if let Arg::Ident(name) = first {
            return self.call(c, name, dot, fin);
        }
        if c.args.len() > 1 || fin.is_some() {
            let msg = match first {
                Arg::Field(n) | Arg::Var(_, n) | Arg::Sub(_, n) if !n.is_empty() => {
                    format!("{} is not a method but has arguments", n[n.len() - 1])
                }
                _ => format!("can't give argument to non-function {}", arg_string(first)),
            };
            return Err(self.err_at(*pos0, &arg_string(first), &msg));
        }
        self.eval_arg(*pos0, first, dot, Param::Any)
    }

    fn field_chain(&self, pos: usize, ctx: &str, mut v: Value, names: &[String]) -> R<Value> {
        for n in names {
            v = match &v {
                Value::Map(m) => Value::Str(m.get(n).cloned().unwrap_or_default()),
                Value::AnyMap(m) => m.get(n).cloned().unwrap_or(Value::Missing),
                Value::Struct(fs) => match fs.iter().find(|(k, _)| k == n) {
                    Some((_, x)) => x.clone(),
                    None => {
                        return Err(self.err_at(
                            pos,
                            ctx,
                            &format!("can't evaluate field {n} in type {}", v.type_name()),
                        ))
                    }
                },
                Value::Sample(s) => match n.as_str() {
                    "Labels" => Value::Map(Arc::new(s.labels.clone())),
                    "Value" => Value::Float(s.value),
                    _ => {
                        return Err(self.err_at(
                            pos,
                            ctx,
                            &format!("can't evaluate field {n} in type *template.sample"),
                        ))
                    }
                },
                Value::Nil | Value::Missing => {
                    return Err(self.err_at(
                        pos,
                        ctx,
                        &format!("nil pointer evaluating interface {{}}.{n}"),
                    ))
                }
                other => {
                    return Err(self.err_at(
                        pos,
                        ctx,
                        &format!("can't evaluate field {n} in type {}", other.type_name()),
                    ))
                }
            };
        }
        Ok(v)
    }

    fn eval_arg(&mut self, pos: usize, a: &Arg, dot: &Value, want: Param) -> R<Value> {
        self.step(pos)?;
        let ctx = arg_string(a);
        let literal_mismatch = |this: &Self| {
            this.err_at(
                pos,
                &ctx,
                &format!("expected {}; found {}", want.go_name(), ctx),
            )
        };
        let v = match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => {
                if matches!(want, Param::Any | Param::Sample) {
                    Value::Nil
                } else {
                    return Err(self.err_at(
                        pos,
                        &ctx,
                        &format!("cannot assign nil to {}", want.go_name()),
                    ));
                }
            }
            Arg::Bool(b) => match want {
                Param::Any | Param::Bool => Value::Bool(*b),
                _ => return Err(literal_mismatch(self)),
            },
            Arg::Str(s) => match want {
                Param::Any | Param::Str => Value::Str(s.clone()),
                _ => return Err(literal_mismatch(self)),
            },
            Arg::Char(c) => match want {
                Param::Any | Param::Int => Value::Int(*c as i64),
                Param::Float => Value::Float(*c as u32 as f64),
                _ => return Err(literal_mismatch(self)),
            },
            Arg::Number(_, n) => match (want, n) {
                (Param::Any | Param::Int, Num::Int(i)) => Value::Int(*i),
                (Param::Any, Num::Float(f)) => Value::Float(*f),
                (Param::Float, Num::Int(i)) => Value::Float(*i as f64),
                (Param::Float, Num::Float(f)) => Value::Float(*f),
                _ => return Err(literal_mismatch(self)),
            },
            Arg::Field(names) => self.field_chain(pos, &ctx, dot.clone(), names)?,
            Arg::Var(name, names) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err(self.err_at(pos, &ctx, &format!("undefined variable: {name}")));
                };
                let v = v.clone();
                self.field_chain(pos, &ctx, v, names)?
            }
            Arg::Sub(p, names) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot)?;
                self.vars.truncate(mark);
                self.field_chain(pos, &ctx, v, names)?
            }
            Arg::Ident(name) => {
                let c = Cmd {
                    pos,
                    args: vec![(pos, a.clone())],
                };
                self.call(&c, name, dot, None)?
            }
        };
        self.check_type(pos, &ctx, v, want)
    }

    fn check_type(&self, pos: usize, ctx: &str, v: Value, want: Param) -> R<Value> {
        let ok = matches!(
            (want, &v),
            (Param::Any, _)
                | (Param::Str, Value::Str(_))
                | (Param::Float, Value::Float(_))
                | (Param::Int, Value::Int(_))
                | (Param::Bool, Value::Bool(_))
                | (Param::Sample, Value::Sample(_) | Value::Nil)
                | (Param::Samples, Value::Samples(_) | Value::Nil)
        );
        if ok {
            return Ok(v);
        }
        if matches!(v, Value::Missing) {
            return Err(self.err_at(
                pos,
                ctx,
                &format!("invalid value; expected {}", want.go_name()),
            ));
        }
        Err(self.err_at(
            pos,
            ctx,
            &format!(
                "wrong type for value; expected {}; got {}",
                want.go_name(),
                v.type_name()
            ),
        ))
    }

    fn call(&mut self, c: &Cmd, name: &str, dot: &Value, fin: Option<Value>) -> R<Value> {
        let ctx = cmd_string(c);
        let args = &c.args[1..];
        // Lazy `and` / `or` (Go 1.18+): stop at the first deciding argument.
        if name == "and" || name == "or" {
            let n = args.len() + usize::from(fin.is_some());
            if n == 0 {
                return Err(self.err_at(
                    c.pos,
                    &ctx,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut v = Value::Missing;
            for (p, a) in args {
                v = self.eval_arg(*p, a, dot, Param::Any)?;
                if v.truth() != (name == "and") {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let Some((params, variadic)) = funcs::signature(name) else {
            return Err(self.err_at(c.pos, &ctx, &format!("{name:?} is not a defined function")));
        };
        let n = args.len() + usize::from(fin.is_some());
        let arity_ok = match variadic {
            Some(_) => n >= params.len(),
            None => n == params.len(),
        };
        if !arity_ok {
            let msg = match variadic {
                Some(_) => format!(
                    "wrong number of args for {name}: want at least {} got {n}",
                    params.len()
                ),
                None => format!(
                    "wrong number of args for {name}: want {} got {n}",
                    params.len()
                ),
            };
            return Err(self.err_at(c.pos, &ctx, &msg));
        }
        let mut vals = Vec::with_capacity(n);
        for (i, (p, a)) in args.iter().enumerate() {
            let want = params.get(i).copied().or(variadic).unwrap_or(Param::Any);
            vals.push(self.eval_arg(*p, a, dot, want)?);
        }
        if let Some(f) = fin {
            let want = params
                .get(n - 1)
                .copied()
                .or(variadic)
                .unwrap_or(Param::Any);
            vals.push(self.check_type(c.pos, &ctx, f, want)?);
        }
        funcs::call(name, vals, self.q).map_err(|e| {
            let msg = match e {
                funcs::CallError::Call(m) => format!("error calling {name}: {m}"),
                funcs::CallError::Plain(m) => m,
            };
            self.err_at(c.pos, &ctx, &msg)
        })
    }
}

fn go_quote(s: &str) -> String {
    printf::go_quote(s)
}

fn arg_string(a: &Arg) -> String {
    let chain = |names: &[String]| names.iter().map(|n| format!(".{n}")).collect::<String>();
    match a {
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Bool(b) => b.to_string(),
        Arg::Number(t, _) => t.clone(),
        Arg::Str(s) => go_quote(s),
        Arg::Char(c) => format!("{:?}", c),
        Arg::Field(n) => chain(n),
        Arg::Var(v, n) => format!("{v}{}", chain(n)),
        Arg::Ident(n) => n.clone(),
        Arg::Sub(p, n) => format!("({}){}", pipe_string(p), chain(n)),
    }
}

fn cmd_string(c: &Cmd) -> String {
    c.args
        .iter()
        .map(|(_, a)| arg_string(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pipe_string(p: &Pipe) -> String {
    let mut s = String::new();
    if !p.decl.is_empty() {
        s.push_str(&p.decl.join(", "));
        s.push_str(if p.assign { " = " } else { " := " });
    }
    s.push_str(
        &p.cmds
            .iter()
            .map(cmd_string)
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s
}
