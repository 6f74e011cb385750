//! Recursive-descent / precedence-climbing parser with Prometheus's type checks.

use promlite_model::{MatchOp, Matcher, METRIC_NAME};

use super::ast::*;
use super::errors::{ParseError, ParseErrorKind};
use super::functions::{get_function, FunctionId};
use super::lexer::{lex, Tok, Token};
use super::ParseOptions;

/// Deepest AST accepted (longest chain of nested nodes, e.g. `1+1+...+1` has one
/// level per `+`); deeper queries get an error instead of exhausting the stack of
/// whatever walks the tree recursively.
pub const MAX_DEPTH: u32 = 200;
/// Deepest parser recursion accepted: nesting of parentheses, call arguments,
/// aggregations and unary operators. A debug build needs about 12 KiB of stack per
/// level, so 64 levels stay well inside a 2 MiB thread stack.
pub const MAX_NESTING: u32 = 64;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 1 << 20;

type Res<T> = Result<T, ParseError>;
/// An expression and the depth of its tree.
type Node = (Expr, u32);

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: u32,
    opts: ParseOptions,
    /// Set while parsing the second argument of `info()`, whose label selector may
    /// match everything (Prometheus exempts it from the non-empty-matcher rule).
    lenient_selector: bool,
}

/// Keywords that cannot be printed as bare metric names.
pub(crate) fn is_keyword(s: &str) -> bool {
    const KW: [&str; 16] = [
        "and",
        "or",
        "unless",
        "atan2",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "start",
        "end",
    ];
    KW.iter().any(|k| k.eq_ignore_ascii_case(s)) || AggregateOp::from_keyword(s).is_some()
}

fn kw(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Ident { text, .. } if text.eq_ignore_ascii_case(k))
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, opts: ParseOptions) -> Res<Self> {
        if src.len() > MAX_QUERY_LEN {
            return Err(ParseError::new(
                src,
                Span::new(0, 0),
                format!(
                    "query too long: {} bytes, at most {MAX_QUERY_LEN}",
                    src.len()
                ),
            )
            .with_kind(ParseErrorKind::TooComplex));
        }
        let toks = lex(src);
        Ok(Parser {
            src,
            toks,
            pos: 0,
            depth: 0,
            opts,
            lenient_selector: false,
        })
    }

    #[inline(never)]
    fn err<T>(&self, span: Span, msg: impl Into<String>) -> Res<T> {
        Err(ParseError::new(self.src, span, msg))
    }

    #[inline(never)]
    fn err_kind<T>(&self, kind: ParseErrorKind, span: Span, msg: impl Into<String>) -> Res<T> {
        Err(ParseError::new(self.src, span, msg).with_kind(kind))
    }

    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    /// Prometheus-style description of a token for "unexpected ..." messages.
    fn desc(&self, t: &Token) -> String {
        let text = &self.src[t.span.start..t.span.end];
        match &t.tok {
            Tok::Eof => "end of input".into(),
            Tok::Ident { text, colon } => {
                if *colon {
                    format!("metric identifier {text:?}")
                } else if let Some(op) = AggregateOp::from_keyword(text) {
                    format!("<aggr:{}>", op.as_str())
                } else if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(text))
                {
                    format!("<op:{}>", text.to_ascii_lowercase())
                } else if is_keyword(text) {
                    format!("<{}>", text.to_ascii_lowercase())
                } else {
                    format!("identifier {text:?}")
                }
            }
            Tok::Number(_) => format!("number {text:?}"),
            Tok::Duration(_) => format!("duration {text:?}"),
            Tok::Str(_) => format!("string {text:?}"),
            Tok::Add
            | Tok::Sub
            | Tok::Mul
            | Tok::Div
            | Tok::Mod
            | Tok::Pow
            | Tok::Eql
            | Tok::Neq
            | Tok::Gtr
            | Tok::Lss
            | Tok::Gte
            | Tok::Lte => format!("<op:{text}>"),
            _ => format!("{text:?}"),
        }
    }

    #[inline(never)]
    fn unexpected<T>(&self, context: &str, expected: &str) -> Res<T> {
        let t = self.peek();
        if let Tok::Error(m) = &t.tok {
            return self.err_kind(ParseErrorKind::Lexical, t.span, m.clone());
        }
        let mut m = format!("unexpected {}", self.desc(t));
        if !context.is_empty() {
            m.push_str(" in ");
            m.push_str(context);
        }
        if !expected.is_empty() {
            m.push_str(", expected ");
            m.push_str(expected);
        }
        self.err(t.span, m)
    }

    fn expect(&mut self, want: Tok, context: &str, expected: &str) -> Res<Token> {
        if self.peek().tok == want {
            Ok(self.bump())
        } else {
            self.unexpected(context, expected)
        }
    }

    fn check_depth(&self, d: u32, span: Span) -> Res<()> {
        if d > MAX_DEPTH {
            return self.err_kind(
                ParseErrorKind::TooComplex,
                span,
                format!("expression nesting too deep (more than {MAX_DEPTH} levels)"),
            );
        }
        if self.depth > MAX_NESTING {
            return self.err_kind(
                ParseErrorKind::TooComplex,
                span,
                format!("expression nesting too deep (more than {MAX_NESTING} nested levels)"),
            );
        }
        Ok(())
    }

    /// Parses the whole input.
    pub(crate) fn parse_all(&mut self) -> Res<Expr> {
        if self.peek().tok == Tok::Eof {
            return self.err(Span::new(0, 0), "no expression found in input");
        }
        let (e, _) = self.expr(0)?;
        if self.peek().tok != Tok::Eof {
            return self.unexpected("", "");
        }
        Ok(e)
    }

    fn binop(&self) -> Option<BinaryOp> {
        Some(match &self.peek().tok {
            Tok::Add => BinaryOp::Add,
            Tok::Sub => BinaryOp::Sub,
            Tok::Mul => BinaryOp::Mul,
            Tok::Div => BinaryOp::Div,
            Tok::Mod => BinaryOp::Mod,
            Tok::Pow => BinaryOp::Pow,
            Tok::Eql => BinaryOp::Eql,
            Tok::Neq => BinaryOp::Neq,
            Tok::Gtr => BinaryOp::Gtr,
            Tok::Lss => BinaryOp::Lss,
            Tok::Gte => BinaryOp::Gte,
            Tok::Lte => BinaryOp::Lte,
            t if kw(t, "and") => BinaryOp::And,
            t if kw(t, "or") => BinaryOp::Or,
            t if kw(t, "unless") => BinaryOp::Unless,
            t if kw(t, "atan2") => BinaryOp::Atan2,
            _ => return None,
        })
    }

    fn expr(&mut self, min_prec: u8) -> Res<Node> {
        if self.depth >= MAX_NESTING {
            return self.err_kind(
                ParseErrorKind::TooComplex,
                self.peek().span,
                format!("expression nesting too deep (more than {MAX_NESTING} nested levels)"),
            );
        }
        self.depth += 1;
        let r = self.expr_inner(min_prec);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min_prec: u8) -> Res<Node> {
        let (mut lhs, mut d) = self.unary()?;
        while let Some(op) = self.binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_tok = self.bump();
            let mut return_bool = false;
            if kw(&self.peek().tok, "bool") {
                let b = self.bump();
                if !op.is_comparison() {
                    return self.err(
                        op_tok.span.to(b.span),
                        "bool modifier can only be used on comparison operators",
                    );
                }
                return_bool = true;
            }
            let matching = self.vector_matching(op)?;
            let next_min = if op.is_right_associative() {
                prec
            } else {
                prec + 1
            };
            let (rhs, rd) = self.expr(next_min)?;
            d = d.max(rd) + 1;
            let span = lhs.span.to(rhs.span);
            self.check_depth(d, span)?;
            lhs = self.binary(op, lhs, rhs, return_bool, matching, span, op_tok.span)?;
        }
        Ok((lhs, d))
    }

    /// `on (..)` / `ignoring (..)` and `group_left/right (..)` after an operator.
    #[inline(never)]
    fn vector_matching(&mut self, op: BinaryOp) -> Res<Option<(VectorMatching, Span)>> {
        let t = self.peek().clone();
        let on = kw(&t.tok, "on");
        if !on && !kw(&t.tok, "ignoring") {
            if kw(&t.tok, "group_left") || kw(&t.tok, "group_right") {
                return self.unexpected("", "");
            }
            return Ok(None);
        }
        self.bump();
        let labels = self.label_list("grouping opts")?;
        let mut vm = VectorMatching {
            card: if op.is_set_operator() {
                VectorMatchCardinality::ManyToMany
            } else {
                VectorMatchCardinality::OneToOne
            },
            matching_labels: labels,
            on,
            include: Vec::new(),
        };
        let mut end = self.toks[self.pos - 1].span.end;
        let g = self.peek().clone();
        let left = kw(&g.tok, "group_left");
        if left || kw(&g.tok, "group_right") {
            self.bump();
            vm.card = if left {
                VectorMatchCardinality::ManyToOne
            } else {
                VectorMatchCardinality::OneToMany
            };
            if self.peek().tok == Tok::LParen {
                vm.include = self.label_list("grouping opts")?;
            }
            end = self.toks[self.pos - 1].span.end;
        }
        Ok(Some((vm, Span::new(t.span.start, end))))
    }

    /// `( label, label, ... )`, trailing comma allowed; quoted names allowed.
    fn label_list(&mut self, context: &str) -> Res<Vec<String>> {
        self.expect(Tok::LParen, context, "\"(\"")?;
        let mut out = Vec::new();
        loop {
            let t = self.peek().clone();
            match &t.tok {
                Tok::RParen => {
                    self.bump();
                    return Ok(out);
                }
                Tok::Ident { text, colon } => {
                    if *colon {
                        return self.unexpected(context, "label");
                    }
                    out.push(text.clone());
                    self.bump();
                }
                Tok::Str(s) => {
                    out.push(s.clone());
                    self.bump();
                }
                _ => return self.unexpected(context, "label"),
            }
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {}
                _ => return self.unexpected(context, "\",\" or \")\""),
            }
        }
    }

    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        op: BinaryOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        matching: Option<(VectorMatching, Span)>,
        span: Span,
        op_span: Span,
    ) -> Res<Expr> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        let scalarish = |t| t == ValueType::Scalar || t == ValueType::Vector;
        if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            return self.err(
                op_span,
                "comparisons between scalars must use BOOL modifier",
            );
        }
        if !scalarish(lt) || !scalarish(rt) {
            return self.err_kind(
                ParseErrorKind::Type,
                span,
                "binary expression must contain only scalar and instant vector types",
            );
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        let matching = match matching {
            Some((vm, _mspan)) => {
                if !both_vectors {
                    if !vm.matching_labels.is_empty()
                        || vm.on
                        || vm.card == VectorMatchCardinality::ManyToOne
                        || vm.card == VectorMatchCardinality::OneToMany
                    {
                        return self
                            .err(span, "vector matching only allowed between instant vectors");
                    }
                    None
                } else {
                    if op.is_set_operator()
                        && matches!(
                            vm.card,
                            VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany
                        )
                    {
                        return self.err(
                            span,
                            format!("no grouping allowed for {:?} operation", op.as_str()),
                        );
                    }
                    if vm.on {
                        if let Some(l) = vm.include.iter().find(|l| vm.matching_labels.contains(l))
                        {
                            return self.err(
                                op_span,
                                format!(
                                    "label {l:?} must not occur in ON and GROUP clause at once"
                                ),
                            );
                        }
                    }
                    Some(vm)
                }
            }
            None if both_vectors => Some(VectorMatching {
                card: if op.is_set_operator() {
                    VectorMatchCardinality::ManyToMany
                } else {
                    VectorMatchCardinality::OneToOne
                },
                matching_labels: Vec::new(),
                on: false,
                include: Vec::new(),
            }),
            None => None,
        };
        if op.is_set_operator() && (lt == ValueType::Scalar || rt == ValueType::Scalar) {
            return self.err_kind(
                ParseErrorKind::Type,
                span,
                format!(
                    "set operator {:?} not allowed in binary scalar expression",
                    op.as_str()
                ),
            );
        }
        Ok(Expr::new(
            ExprKind::Binary(BinaryExpr {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool,
                matching,
            }),
            span,
        ))
    }

    /// Unary `+`/`-`, which bind tighter than `*` but looser than `^`.
    fn unary(&mut self) -> Res<Node> {
        let t = self.peek().clone();
        let op = match t.tok {
            Tok::Sub => UnaryOp::Neg,
            Tok::Add => UnaryOp::Pos,
            _ => return self.postfix(),
        };
        self.bump();
        self.depth += 1;
        let r = self.expr(BinaryOp::Pow.precedence());
        self.depth -= 1;
        let (inner, d) = r?;
        let span = t.span.to(inner.span);
        if let ExprKind::NumberLiteral(v) = inner.kind {
            let v = if op == UnaryOp::Neg { -v } else { v };
            return Ok((Expr::new(ExprKind::NumberLiteral(v), span), d));
        }
        let it = inner.value_type();
        if it != ValueType::Scalar && it != ValueType::Vector {
            return self.err_kind(ParseErrorKind::Type,
                span,
                format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    it.as_str()
                ),
            );
        }
        self.check_depth(d + 1, span)?;
        Ok((
            Expr::new(
                ExprKind::Unary(UnaryExpr {
                    op,
                    expr: Box::new(inner),
                }),
                span,
            ),
            d + 1,
        ))
    }

    /// A primary expression followed by `[range]`, `[range:step]`, `offset`, `@`.
    fn postfix(&mut self) -> Res<Node> {
        let (mut e, mut d) = self.primary()?;
        loop {
            let t = self.peek();
            if t.tok == Tok::LBracket {
                (e, d) = self.postfix_bracket(e, d)?;
            } else if kw(&t.tok, "offset") {
                e = self.postfix_offset(e)?;
            } else if t.tok == Tok::At {
                e = self.postfix_at(e)?;
            } else {
                return Ok((e, d));
            }
        }
    }

    #[inline(never)]
    fn postfix_bracket(&mut self, e: Expr, d: u32) -> Res<Node> {
        let open = self.bump().span;
        let (range, _) = self.duration("range", true)?;
        if self.peek().tok == Tok::Colon {
            self.bump();
            let step = if self.peek().tok == Tok::RBracket {
                None
            } else {
                Some(self.duration("subquery selector", true)?.0)
            };
            let close = self.expect(Tok::RBracket, "subquery selector", "\"]\"")?;
            let span = e.span.to(close.span);
            if e.value_type() != ValueType::Vector {
                return self.err_kind(
                    ParseErrorKind::Type,
                    span,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        prom_type_name(e.value_type())
                    ),
                );
            }
            self.check_depth(d + 1, span)?;
            return Ok((
                Expr::new(
                    ExprKind::Subquery(SubqueryExpr {
                        expr: Box::new(e),
                        range,
                        step,
                        offset: 0,
                        at: None,
                    }),
                    span,
                ),
                d + 1,
            ));
        }
        let close = self.expect(Tok::RBracket, "range", "\"]\" or \":\"")?;
        let span = e.span.to(close.span);
        let bracket = open.to(close.span);
        match e.kind {
            ExprKind::VectorSelector(vs) => {
                if vs.offset != 0 {
                    return self.err(bracket, "no offset modifiers allowed before range");
                }
                if vs.at.is_some() {
                    return self.err(bracket, "no @ modifiers allowed before range");
                }
                Ok((
                    Expr::new(
                        ExprKind::MatrixSelector(MatrixSelector {
                            selector: vs,
                            range,
                        }),
                        span,
                    ),
                    d,
                ))
            }
            _ => self.err(bracket, "ranges only allowed for vector selectors"),
        }
    }

    #[inline(never)]
    fn postfix_offset(&mut self, mut e: Expr) -> Res<Expr> {
        self.bump();
        let (off, end) = self.signed_duration()?;
        let span = Span::new(e.span.start, end);
        let target = match &mut e.kind {
            ExprKind::VectorSelector(vs) => &mut vs.offset,
            ExprKind::MatrixSelector(ms) => &mut ms.selector.offset,
            ExprKind::Subquery(sq) => &mut sq.offset,
            _ => {
                return self.err(
                    span,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                )
            }
        };
        if *target != 0 {
            return self.err(span, "offset may not be set multiple times");
        }
        *target = off;
        e.span = span;
        Ok(e)
    }

    #[inline(never)]
    fn postfix_at(&mut self, mut e: Expr) -> Res<Expr> {
        self.bump();
        let (at, end) = self.at_value(e.span.start)?;
        let span = Span::new(e.span.start, end);
        let target = match &mut e.kind {
            ExprKind::VectorSelector(vs) => &mut vs.at,
            ExprKind::MatrixSelector(ms) => &mut ms.selector.at,
            ExprKind::Subquery(sq) => &mut sq.at,
            _ => {
                return self.err(
                    span,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                )
            }
        };
        if target.is_some() {
            return self.err(span, "@ <timestamp> may not be set multiple times");
        }
        *target = Some(at);
        e.span = span;
        Ok(e)
    }

    /// A duration: a duration literal or a number of seconds. `positive` demands > 0.
    #[inline(never)]
    fn duration(&mut self, context: &str, positive: bool) -> Res<(i64, Span)> {
        let t = self.peek().clone();
        let ms = match t.tok {
            Tok::Duration(ms) => ms,
            Tok::Number(v) => self.secs_to_ms(v, t.span)?,
            _ => return self.unexpected(context, "duration"),
        };
        self.bump();
        if positive && ms <= 0 {
            return self.err(t.span, "duration must be greater than 0");
        }
        Ok((ms, t.span))
    }

    fn secs_to_ms(&self, v: f64, span: Span) -> Res<i64> {
        let ns = (v * 1e9).round();
        if !ns.is_finite() || ns.abs() >= 9.2e18 {
            return self.err(
                span,
                format!(
                    "not a valid duration string: {:?}",
                    &self.src[span.start..span.end]
                ),
            );
        }
        Ok((ns as i64) / 1_000_000)
    }

    /// The operand of `offset`: an optionally signed duration.
    #[inline(never)]
    fn signed_duration(&mut self) -> Res<(i64, usize)> {
        let neg = match self.peek().tok {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let (ms, span) = self.duration("offset", false)?;
        Ok((if neg { -ms } else { ms }, span.end))
    }

    /// The operand of `@`: `start()`, `end()` or a signed number of seconds.
    #[inline(never)]
    fn at_value(&mut self, expr_start: usize) -> Res<(AtModifier, usize)> {
        let t = self.peek().clone();
        for (name, m) in [("start", AtModifier::Start), ("end", AtModifier::End)] {
            if kw(&t.tok, name) {
                self.bump();
                self.expect(Tok::LParen, "@", "\"(\"")?;
                let c = self.expect(Tok::RParen, "@", "\")\"")?;
                return Ok((m, c.span.end));
            }
        }
        let neg = match t.tok {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let n = self.peek().clone();
        let v = match n.tok {
            Tok::Number(v) => v,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            _ => return self.unexpected("@", "timestamp"),
        };
        self.bump();
        let v = if neg { -v } else { v };
        let Some(ms) = at_ms(v) else {
            let shown = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
            } else {
                format!("{v:.6}")
            };
            return self.err(
                Span::new(expr_start, n.span.end),
                format!("timestamp out of bounds for @ modifier: {shown}"),
            );
        };
        Ok((AtModifier::Timestamp(ms), n.span.end))
    }

    fn primary(&mut self) -> Res<Node> {
        let lenient = std::mem::take(&mut self.lenient_selector);
        let t = self.peek().clone();
        self.check_depth(self.depth, t.span)?;
        match &t.tok {
            Tok::Number(v) => {
                self.bump();
                Ok((Expr::new(ExprKind::NumberLiteral(*v), t.span), 1))
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok((
                    Expr::new(ExprKind::NumberLiteral(*ms as f64 / 1000.0), t.span),
                    1,
                ))
            }
            Tok::Str(s) => {
                self.bump();
                Ok((Expr::new(ExprKind::StringLiteral(s.clone()), t.span), 1))
            }
            Tok::LParen => {
                self.bump();
                let (inner, d) = self.expr(0)?;
                let close = self.expect(Tok::RParen, "paren expression", "\")\"")?;
                let span = t.span.to(close.span);
                self.check_depth(d + 1, span)?;
                Ok((Expr::new(ExprKind::Paren(Box::new(inner)), span), d + 1))
            }
            Tok::LBrace => {
                let (vs, span) = self.selector(None, t.span.start, lenient)?;
                Ok((Expr::new(ExprKind::VectorSelector(vs), span), 1))
            }
            Tok::Ident { .. } => self.ident_primary(t),
            _ => self.unexpected("", ""),
        }
    }

    /// An expression starting with an identifier: aggregation, call or selector.
    #[inline(never)]
    fn ident_primary(&mut self, t: Token) -> Res<Node> {
        let Tok::Ident { text, colon } = &t.tok else {
            return self.unexpected("", "");
        };
        // Keywords that only ever modify a binary operator cannot name a metric.
        if ["bool", "on", "ignoring", "group_left", "group_right"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(text))
        {
            return self.unexpected("", "");
        }
        let next = self.peek_at(1).tok.clone();
        if let Some(op) = AggregateOp::from_keyword(text) {
            if next == Tok::LParen || kw(&next, "by") || kw(&next, "without") {
                return self.aggregate(op, t.span);
            }
        }
        if next == Tok::LParen && !colon {
            return self.call(text, t.span);
        }
        self.bump();
        let (vs, span) = if next == Tok::LBrace {
            self.selector(Some(text.clone()), t.span.start, false)?
        } else {
            let vs = self.make_selector(Some(text.clone()), Vec::new(), t.span, false)?;
            (vs, t.span)
        };
        Ok((Expr::new(ExprKind::VectorSelector(vs), span), 1))
    }

    /// `{ matchers }`, the current token being `{`.
    #[inline(never)]
    fn selector(
        &mut self,
        mut name: Option<String>,
        start: usize,
        lenient: bool,
    ) -> Res<(VectorSelector, Span)> {
        self.expect(Tok::LBrace, "label matching", "\"{\"")?;
        let mut matchers: Vec<Matcher> = Vec::new();
        let ctx = "label matching";
        loop {
            let t = self.peek().clone();
            let label = match &t.tok {
                Tok::RBrace => break,
                Tok::Ident { text, .. } => text.clone(),
                Tok::Str(s) => {
                    let nt = self.peek_at(1).tok.clone();
                    if matches!(nt, Tok::Comma | Tok::RBrace) {
                        // A quoted metric name.
                        self.bump();
                        if let Some(n) = &name {
                            return self.err(
                                t.span,
                                format!("metric name must not be set twice: {n:?} or {s:?}"),
                            );
                        }
                        name = Some(s.clone());
                        if self.peek().tok == Tok::Comma {
                            self.bump();
                        }
                        continue;
                    }
                    s.clone()
                }
                _ => return self.unexpected(ctx, "identifier or \"}\""),
            };
            self.bump();
            let op = match self.peek().tok {
                Tok::Assign => MatchOp::Equal,
                Tok::Neq => MatchOp::NotEqual,
                Tok::ReMatch => MatchOp::RegexMatch,
                Tok::ReNoMatch => MatchOp::RegexNoMatch,
                _ => return self.unexpected(ctx, "label matching operator"),
            };
            self.bump();
            let vt = self.peek().clone();
            let Tok::Str(value) = &vt.tok else {
                return self.unexpected(ctx, "string");
            };
            self.bump();
            let m = match Matcher::new(op, label.as_str(), value.as_str()) {
                Ok(m) => m,
                Err(e) => {
                    return self.err_kind(
                        ParseErrorKind::Regex,
                        t.span.to(vt.span),
                        regex_error_message(value, &e.message),
                    )
                }
            };
            matchers.push(m);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBrace => {}
                _ => return self.unexpected(ctx, "\",\" or \"}\""),
            }
        }
        let close = self.bump();
        let span = Span::new(start, close.span.end);
        let vs = self.make_selector(name, matchers, span, lenient)?;
        Ok((vs, span))
    }

    fn make_selector(
        &self,
        name: Option<String>,
        mut matchers: Vec<Matcher>,
        span: Span,
        lenient: bool,
    ) -> Res<VectorSelector> {
        if let Some(n) = &name {
            if let Some(m) = matchers.iter().find(|m| &*m.name == METRIC_NAME) {
                return self.err(
                    span,
                    format!(
                        "metric name must not be set twice: {n:?} or {:?}",
                        &*m.value
                    ),
                );
            }
            match Matcher::new(MatchOp::Equal, METRIC_NAME, n.as_str()) {
                Ok(m) => matchers.push(m),
                Err(e) => return self.err(span, e.to_string()),
            }
        }
        if !lenient && !matchers.iter().any(|m| !m.matches_empty()) {
            return self.err(
                span,
                "vector selector must contain at least one non-empty matcher",
            );
        }
        Ok(VectorSelector {
            name,
            matchers,
            offset: 0,
            at: None,
        })
    }

    /// `( expr, expr, ... )` of a call or aggregation; returns args and the `)` span.
    fn call_args(&mut self, context: &str, info: bool) -> Res<(Vec<Node>, Span)> {
        self.expect(Tok::LParen, context, "\"(\"")?;
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            return Ok((args, self.bump().span));
        }
        loop {
            self.lenient_selector = info && args.len() == 1;
            args.push(self.expr(0)?);
            self.lenient_selector = false;
            match self.peek().tok {
                Tok::Comma => {
                    let c = self.bump();
                    if self.peek().tok == Tok::RParen {
                        return self
                            .err(c.span, "trailing commas not allowed in function call args");
                    }
                }
                Tok::RParen => return Ok((args, self.bump().span)),
                _ => return self.unexpected(context, "\",\" or \")\""),
            }
        }
    }

    #[inline(never)]
    fn call(&mut self, name: &str, name_span: Span) -> Res<Node> {
        let Some(func) = get_function(name) else {
            return self.err_kind(
                ParseErrorKind::UnknownFunction,
                name_span,
                format!("unknown function with name {name:?}"),
            );
        };
        if func.experimental && !self.opts.enable_experimental_functions {
            return self.err_kind(
                ParseErrorKind::NotEnabled,
                name_span,
                format!("function {name:?} is not enabled"),
            );
        }
        self.bump();
        let (args, close) = self.call_args("function call", func.id == FunctionId::Info)?;
        let span = name_span.to(close);
        let n = args.len();
        if n < func.min_args() {
            let msg = if func.variadic == 0 {
                format!(
                    "expected {} argument(s) in call to {name:?}, got {n}",
                    func.min_args()
                )
            } else {
                format!(
                    "expected at least {} argument(s) in call to {name:?}, got {n}",
                    func.min_args()
                )
            };
            return self.err_kind(ParseErrorKind::Type, span, msg);
        }
        if let Some(max) = func.max_args() {
            if n > max {
                let msg = if func.variadic == 0 {
                    format!("expected {max} argument(s) in call to {name:?}, got {n}")
                } else {
                    format!("expected at most {max} argument(s) in call to {name:?}, got {n}")
                };
                return self.err_kind(ParseErrorKind::Type, span, msg);
            }
        }
        let mut d = 0;
        let mut out = Vec::with_capacity(n);
        for (i, (a, ad)) in args.into_iter().enumerate() {
            let want = func.arg_type(i).unwrap_or(ValueType::Scalar);
            let got = a.value_type();
            if got != want {
                return self.err_kind(
                    ParseErrorKind::Type,
                    a.span,
                    format!("expected type {want} in call to function {name:?}, got {got}"),
                );
            }
            d = d.max(ad);
            out.push(a);
        }
        self.check_depth(d + 1, span)?;
        Ok((
            Expr::new(ExprKind::Call(Call { func, args: out }), span),
            d + 1,
        ))
    }

    fn grouping(&mut self) -> Res<Option<(bool, Vec<String>)>> {
        let t = self.peek().tok.clone();
        let without = kw(&t, "without");
        if !without && !kw(&t, "by") {
            return Ok(None);
        }
        self.bump();
        Ok(Some((without, self.label_list("grouping opts")?)))
    }

    #[inline(never)]
    fn aggregate(&mut self, op: AggregateOp, op_span: Span) -> Res<Node> {
        if op.is_experimental() && !self.opts.enable_experimental_functions {
            return self.err_kind(ParseErrorKind::NotEnabled, op_span, "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions");
        }
        self.bump();
        let mut grouping = self.grouping()?;
        if grouping.is_some() && (kw(&self.peek().tok, "by") || kw(&self.peek().tok, "without")) {
            return self.unexpected("aggregation", "");
        }
        let (args, close) = self.call_args("aggregation", false)?;
        let mut end = close.end;
        if grouping.is_none() {
            grouping = self.grouping()?;
            if grouping.is_some() {
                end = self.toks[self.pos - 1].span.end;
            }
        } else if kw(&self.peek().tok, "by") || kw(&self.peek().tok, "without") {
            return self.unexpected("aggregation", "");
        }
        let span = Span::new(op_span.start, end);
        let want = if op.param_type().is_some() { 2 } else { 1 };
        if args.len() != want {
            return self.err_kind(ParseErrorKind::Type,
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            );
        }
        let mut it = args.into_iter();
        let param = if let Some(pt) = op.param_type() {
            let (p, pd) = it
                .next()
                .unwrap_or((Expr::new(ExprKind::NumberLiteral(0.0), span), 1));
            if p.value_type() != pt {
                return self.err_kind(
                    ParseErrorKind::Type,
                    p.span,
                    format!(
                        "expected type {pt} in aggregation parameter, got {}",
                        p.value_type()
                    ),
                );
            }
            Some((p, pd))
        } else {
            None
        };
        let Some((e, ed)) = it.next() else {
            return self.err(span, "missing aggregation expression");
        };
        if e.value_type() != ValueType::Vector {
            return self.err_kind(
                ParseErrorKind::Type,
                e.span,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    e.value_type()
                ),
            );
        }
        let (without, labels) = grouping.unwrap_or((false, Vec::new()));
        let d = ed.max(param.as_ref().map_or(0, |p| p.1)) + 1;
        self.check_depth(d, span)?;
        Ok((
            Expr::new(
                ExprKind::Aggregate(AggregateExpr {
                    op,
                    expr: Box::new(e),
                    param: param.map(|p| Box::new(p.0)),
                    grouping: labels,
                    without,
                }),
                span,
            ),
            d,
        ))
    }
}

/// Prometheus quotes Go's regexp parser; we compile with Rust's `regex`. The
/// messages for unbalanced parentheses are translated to Go's wording (Go reports
/// the whole anchored pattern, `^(?s:...)$`, for those); others keep Rust's text.
fn regex_error_message(pattern: &str, rust_message: &str) -> String {
    let msg = rust_message.trim_start_matches("error: ");
    let go = match msg {
        "unclosed group" => Some("missing closing )"),
        "unopened group" => Some("unexpected )"),
        _ => None,
    };
    match go {
        Some(code) => format!("error parsing regexp: {code}: `^(?s:{pattern})$`"),
        None => format!("error parsing regexp: {msg}"),
    }
}

/// Converts an `@` timestamp in seconds to milliseconds as Prometheus does
/// (multiply, round half away from zero); `None` when not finite or out of `i64`.
pub(crate) fn at_ms(v: f64) -> Option<i64> {
    let ms = v * 1000.0;
    if !ms.is_finite() || ms.abs() >= 9.223_372_036_854_775e18 {
        return None;
    }
    Some(ms.round() as i64)
}

/// Prometheus's internal type names (`"vector"`, `"matrix"`), used by a few of
/// its messages.
pub(crate) fn prom_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}
