//! Lexing and parsing Go `text/template` source into a tree, with Go's error
//! texts (`template: NAME:LINE: unclosed action`).

use super::TemplateError;

/// Deepest nesting of control structures and parentheses accepted.
pub(crate) const MAX_PARSE_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    Left,  // {{
    Right, // }}
    Space,
    Pipe,
    LParen,
    RParen,
    Declare, // :=
    Assign,  // =
    Comma,
    Field(String), // .name
    Dot,
    Var(String), // $name or $
    Ident(String),
    Keyword(&'static str),
    Bool(bool),
    Nil,
    Number(String),
    Str(String),
    Char(char),
    Comment,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
    pub line: usize,
}

const KEYWORDS: [&str; 10] = [
    "if", "else", "end", "range", "with", "break", "continue", "define", "template", "block",
];

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    out: Vec<Token>,
    name: &'a str,
}

impl<'a> Lexer<'a> {
    fn err(&self, line: usize, msg: String) -> TemplateError {
        TemplateError::parse(self.name, line, msg)
    }

    fn push(&mut self, tok: Tok, pos: usize, line: usize) {
        self.out.push(Token { tok, pos, line });
    }

    fn run(mut self) -> Result<Vec<Token>, TemplateError> {
        let b = self.src.as_bytes();
        loop {
            // Text up to the next "{{".
            let start = self.pos;
            let next = self.src[start..].find("{{").map(|i| start + i);
            let end = next.unwrap_or(b.len());
            let mut text_end = end;
            let trim_left = next.is_some()
                && b.get(end + 2) == Some(&b'-')
                && matches!(b.get(end + 3), Some(b' ' | b'\t' | b'\r' | b'\n'));
            if trim_left {
                while text_end > start && matches!(b[text_end - 1], b' ' | b'\t' | b'\r' | b'\n') {
                    text_end -= 1;
                }
            }
            if text_end > start {
                let text = self.src[start..text_end].to_string();
                let line = self.line;
                self.push(Tok::Text(text), start, line);
            }
            self.line += self.src[start..end].matches('\n').count();
            let Some(open) = next else {
                let (pos, line) = (b.len(), self.line);
                self.push(Tok::Eof, pos, line);
                return Ok(self.out);
            };
            self.pos = open + 2 + if trim_left { 2 } else { 0 };
            let line = self.line;
            self.push(Tok::Left, open, line);
            self.lex_action()?;
        }
    }

    fn at_right(&self) -> Option<(usize, bool)> {
        let b = self.src.as_bytes();
        let p = self.pos;
        if matches!(b.get(p), Some(b' ' | b'\t' | b'\r' | b'\n'))
            && b.get(p + 1) == Some(&b'-')
            && self.src[p + 2..].starts_with("}}")
        {
            return Some((4, true));
        }
        if self.src[p..].starts_with("}}") {
            return Some((2, false));
        }
        None
    }

    fn finish_right(&mut self, len: usize, trim: bool) {
        let line = self.line;
        self.push(Tok::Right, self.pos, line);
        self.pos += len;
        if trim {
            let b = self.src.as_bytes();
            while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\r' | b'\n') {
                if b[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
        }
    }

    fn lex_action(&mut self) -> Result<(), TemplateError> {
        let b = self.src.as_bytes();
        // Comments: {{/* ... */}}, optionally with trim markers.
        let rest = &self.src[self.pos..];
        if rest.starts_with("/*") {
            let Some(close) = rest.find("*/") else {
                return Err(self.err(self.line, "unclosed comment".into()));
            };
            self.line += rest[..close].matches('\n').count();
            self.pos += close + 2;
            let line = self.line;
            self.push(Tok::Comment, self.pos, line);
            return match self.at_right() {
                Some((len, trim)) => {
                    self.finish_right(len, trim);
                    Ok(())
                }
                None => Err(self.err(self.line, "comment ends before closing delimiter".into())),
            };
        }
        let mut parens = 0usize;
        loop {
            if let Some((len, trim)) = self.at_right() {
                if parens > 0 {
                    return Err(self.err(self.line, "unclosed left paren".into()));
                }
                self.finish_right(len, trim);
                return Ok(());
            }
            let p = self.pos;
            let line = self.line;
            let Some(&c) = b.get(p) else {
                return Err(self.err(self.line, "unclosed action".into()));
            };
            match c {
                // Go 1.16+ allows newlines inside actions.
                b' ' | b'\t' | b'\r' | b'\n' => {
                    while let Some(c @ (b' ' | b'\t' | b'\r' | b'\n')) = b.get(self.pos) {
                        if self.pos > p && self.at_right().is_some() {
                            break;
                        }
                        if *c == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    self.push(Tok::Space, p, line);
                }
                b'|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, p, line);
                }
                b'(' => {
                    parens += 1;
                    if parens > MAX_PARSE_DEPTH {
                        return Err(self.err(line, "parentheses nested too deeply".into()));
                    }
                    self.pos += 1;
                    self.push(Tok::LParen, p, line);
                }
                b')' => {
                    if parens == 0 {
                        return Err(self.err(line, "unexpected right paren".into()));
                    }
                    parens -= 1;
                    self.pos += 1;
                    self.push(Tok::RParen, p, line);
                }
                b',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, p, line);
                }
                b':' => {
                    if b.get(p + 1) != Some(&b'=') {
                        return Err(self.err(line, "expected :=".into()));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, p, line);
                }
                b'=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, p, line);
                }
                b'"' => {
                    let mut i = p + 1;
                    loop {
                        match b.get(i) {
                            None | Some(b'\n') => {
                                return Err(self.err(line, "unterminated quoted string".into()))
                            }
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(_) => i += 1,
                        }
                    }
                    let raw = &self.src[p..=i];
                    let s = unquote(raw)
                        .ok_or_else(|| self.err(line, format!("invalid syntax: {raw}")))?;
                    self.pos = i + 1;
                    self.push(Tok::Str(s), p, line);
                }
                b'`' => {
                    let Some(close) = self.src[p + 1..].find('`') else {
                        return Err(self.err(line, "unterminated raw quoted string".into()));
                    };
                    let s = self.src[p + 1..p + 1 + close].to_string();
                    self.line += s.matches('\n').count();
                    self.pos = p + close + 2;
                    self.push(Tok::Str(s), p, line);
                }
                b'\'' => {
                    let mut i = p + 1;
                    loop {
                        match b.get(i) {
                            None | Some(b'\n') => {
                                return Err(self.err(line, "unterminated character constant".into()))
                            }
                            Some(b'\\') => i += 2,
                            Some(b'\'') => break,
                            Some(_) => i += 1,
                        }
                    }
                    let raw = &self.src[p..=i];
                    let inner = format!("\"{}\"", &raw[1..raw.len() - 1]);
                    let s = unquote(&inner).filter(|s| s.chars().count() == 1);
                    let Some(ch) = s.and_then(|s| s.chars().next()) else {
                        return Err(self.err(line, format!("malformed character constant: {raw}")));
                    };
                    self.pos = i + 1;
                    self.push(Tok::Char(ch), p, line);
                }
                b'$' => {
                    let n = ident_len(&b[p + 1..]);
                    self.pos = p + 1 + n;
                    self.push(Tok::Var(self.src[p..self.pos].to_string()), p, line);
                }
                b'.' if !b.get(p + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    let n = ident_len(&b[p + 1..]);
                    self.pos = p + 1 + n;
                    if n == 0 {
                        self.push(Tok::Dot, p, line);
                    } else {
                        self.push(Tok::Field(self.src[p + 1..self.pos].to_string()), p, line);
                    }
                }
                b'0'..=b'9' | b'+' | b'-' | b'.' => {
                    let mut i = p;
                    while i < b.len()
                        && (b[i].is_ascii_alphanumeric()
                            || matches!(b[i], b'.' | b'_')
                            || (matches!(b[i], b'+' | b'-')
                                && (i == p || matches!(b[i - 1], b'e' | b'E' | b'p' | b'P'))))
                    {
                        i += 1;
                    }
                    let text = self.src[p..i].to_string();
                    if parse_number(&text).is_none() {
                        return Err(self.err(line, format!("bad number syntax: {text:?}")));
                    }
                    self.pos = i;
                    self.push(Tok::Number(text), p, line);
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let n = ident_len(&b[p..]).max(1);
                    let word = &self.src[p..p + n];
                    self.pos = p + n;
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w.to_string()),
                        },
                    };
                    self.push(tok, p, line);
                }
                _ => {
                    let ch = self.src[p..].chars().next().unwrap_or('?');
                    return Err(self.err(line, format!("unrecognized character in action: {ch:?}")));
                }
            }
        }
    }
}

fn ident_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c >= 0x80)
        .count()
}

/// Go's `strconv.Unquote` for double-quoted strings.
fn unquote(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        let hex = |it: &mut std::str::Chars<'_>, n: usize| -> Option<u32> {
            let s: String = it.by_ref().take(n).collect();
            (s.len() == n).then_some(())?;
            u32::from_str_radix(&s, 16).ok()
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => out.push(char::from_u32(hex(&mut it, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut it, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut it, 8)?)?),
            '0'..='7' => {
                let s: String = std::iter::once(e).chain(it.by_ref().take(2)).collect();
                out.push(char::from_u32(u32::from_str_radix(&s, 8).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A number literal: an integer when it has no fraction/exponent (Go's ideal
/// constant typed as `int`), otherwise a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

pub(crate) fn parse_number(text: &str) -> Option<Num> {
    let t = text.replace('_', "");
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(bn, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else if body.bytes().all(|c| c.is_ascii_digit()) && !body.is_empty() {
        body.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Num::Int(if neg { -i } else { i }));
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    Some(Num::Float(if neg { -f } else { f }))
}

/// A pipeline argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Number(String, Num),
    Str(String),
    Char(char),
    /// `.a.b`.
    Field(Vec<String>),
    /// `$x.a.b` (`$` alone is the root data).
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// `( pipeline ).a.b`.
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    /// Each argument with its byte position.
    pub args: Vec<(usize, Arg)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub line: usize,
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Option<Vec<Node>>),
    Range(Pipe, Vec<Node>, Option<Vec<Node>>),
    With(Pipe, Vec<Node>, Option<Vec<Node>>),
    Break,
    Continue,
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    name: &'a str,
    vars: Vec<String>,
    funcs: &'a dyn Fn(&str) -> bool,
    range_depth: usize,
    depth: usize,
}

#[allow(clippy::enum_variant_names)]
enum End {
    End,
    Else,
    ElseIf,
    Eof,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }
    fn peek_non_space(&mut self) -> Token {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek().clone()
    }
    fn err(&self, line: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError::parse(self.name, line, msg.into())
    }

    fn list(&mut self, ctx: &str) -> Result<(Vec<Node>, End), TemplateError> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            let line = self.peek().line;
            return Err(self.err(
                line,
                format!("{ctx} nested too deeply (more than {MAX_PARSE_DEPTH} levels)"),
            ));
        }
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => {
                    self.depth -= 1;
                    return Ok((nodes, End::Eof));
                }
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Left => {
                    let k = self.peek_non_space();
                    match k.tok {
                        Tok::Comment => {
                            self.next();
                            self.expect_right(ctx)?;
                        }
                        Tok::Keyword("end") => {
                            self.next();
                            self.expect_right("end")?;
                            self.depth -= 1;
                            return Ok((nodes, End::End));
                        }
                        Tok::Keyword("else") => {
                            self.next();
                            let n = self.peek_non_space();
                            if n.tok == Tok::Keyword("if") {
                                self.depth -= 1;
                                return Ok((nodes, End::ElseIf));
                            }
                            self.expect_right("else")?;
                            self.depth -= 1;
                            return Ok((nodes, End::Else));
                        }
                        Tok::Keyword(kw @ ("if" | "range" | "with")) => {
                            self.next();
                            nodes.push(self.control(kw, k.line)?);
                        }
                        Tok::Keyword(kw @ ("break" | "continue")) => {
                            self.next();
                            if self.range_depth == 0 {
                                return Err(
                                    self.err(k.line, format!("{{{{{kw}}}}} outside {{{{range}}}}"))
                                );
                            }
                            self.expect_right(kw)?;
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        Tok::Keyword(kw) => {
                            return Err(self.err(
                                k.line,
                                format!("{{{{{kw}}}}} is not supported by promlite's templates"),
                            ));
                        }
                        _ => {
                            let p = self.pipeline("command", true)?;
                            nodes.push(Node::Action(p));
                        }
                    }
                }
                other => {
                    return Err(self.err(t.line, format!("unexpected {other:?}")));
                }
            }
        }
    }

    fn expect_right(&mut self, ctx: &str) -> Result<(), TemplateError> {
        let t = self.next_non_space();
        if t.tok != Tok::Right {
            return Err(self.err(t.line, format!("unexpected {} in {ctx}", describe(&t.tok))));
        }
        Ok(())
    }

    fn control(&mut self, kw: &'static str, line: usize) -> Result<Node, TemplateError> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(kw, false)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (body, end) = self.list(kw)?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            End::End => None,
            End::Eof => return Err(self.err(line, "unexpected EOF")),
            End::Else => {
                let (l, end2) = self.list(kw)?;
                match end2 {
                    End::End => Some(l),
                    End::Eof => return Err(self.err(line, "unexpected EOF")),
                    _ => return Err(self.err(line, "expected end; found {{else}}")),
                }
            }
            End::ElseIf => {
                if kw != "if" && kw != "with" {
                    return Err(self.err(line, format!("unexpected {{{{else if}}}} in {kw}")));
                }
                // `{{else if x}}` is `{{else}}{{if x}}...{{end}}{{end}}` sharing one end.
                let t = self.next_non_space(); // "if"
                let inner = self.control(kw, t.line)?;
                Some(vec![inner])
            }
        };
        self.vars.truncate(nvars);
        Ok(match kw {
            "if" => Node::If(pipe, body, else_list),
            "range" => Node::Range(pipe, body, else_list),
            _ => Node::With(pipe, body, else_list),
        })
    }

    fn pipeline(&mut self, ctx: &str, top: bool) -> Result<Pipe, TemplateError> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            line: start.line,
            decl: Vec::new(),
            assign: false,
            cmds: Vec::new(),
        };
        // Declarations: $x := / $x = / $i, $e :=
        if let Tok::Var(v) = &start.tok {
            let save = self.i;
            self.next();
            let n = self.peek_non_space();
            match n.tok {
                Tok::Declare | Tok::Assign => {
                    self.next();
                    pipe.assign = n.tok == Tok::Assign;
                    pipe.decl.push(v.clone());
                }
                Tok::Comma if ctx == "range" => {
                    self.next();
                    let v2 = self.next_non_space();
                    let Tok::Var(v2n) = v2.tok else {
                        return Err(self.err(v2.line, "range can only initialize variables"));
                    };
                    let d = self.next_non_space();
                    if d.tok != Tok::Declare && d.tok != Tok::Assign {
                        return Err(self.err(d.line, "range can only initialize variables"));
                    }
                    pipe.assign = d.tok == Tok::Assign;
                    pipe.decl.push(v.clone());
                    pipe.decl.push(v2n);
                }
                _ => self.i = save,
            }
            if pipe.assign {
                for d in &pipe.decl {
                    if !self.vars.contains(d) {
                        return Err(self.err(start.line, format!("undefined variable {d:?}")));
                    }
                }
            } else {
                self.vars.extend(pipe.decl.iter().cloned());
            }
        }
        loop {
            let t = self.peek_non_space();
            match t.tok {
                Tok::Right if top || ctx != "paren" => {
                    self.next();
                    break;
                }
                Tok::RParen if ctx == "paren" => {
                    self.next();
                    break;
                }
                Tok::Pipe => {
                    if pipe.cmds.is_empty() {
                        return Err(self.err(t.line, "missing command"));
                    }
                    self.next();
                }
                Tok::Eof => return Err(self.err(t.line, "unclosed action")),
                _ => pipe.cmds.push(self.command()?),
            }
        }
        if pipe.cmds.is_empty() {
            return Err(self.err(start.line, format!("missing value for {ctx}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some((
                _,
                Arg::Bool(_) | Arg::Dot | Arg::Nil | Arg::Number(..) | Arg::Str(_) | Arg::Char(_),
            )) = c.args.first()
            {
                let _ = i;
                return Err(self.err(
                    pipe.line,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(pipe)
    }

    fn command(&mut self) -> Result<Cmd, TemplateError> {
        let first = self.peek_non_space();
        let mut cmd = Cmd {
            pos: first.pos,
            args: Vec::new(),
        };
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Space => {
                    self.next();
                    continue;
                }
                Tok::Right | Tok::RParen | Tok::Pipe => break,
                _ => {}
            }
            self.next();
            let mut pos = t.pos;
            let arg = match t.tok {
                Tok::Dot => Arg::Dot,
                Tok::Nil => Arg::Nil,
                Tok::Bool(b) => Arg::Bool(b),
                Tok::Number(s) => {
                    let n = parse_number(&s)
                        .ok_or_else(|| self.err(t.line, format!("bad number syntax: {s:?}")))?;
                    Arg::Number(s, n)
                }
                Tok::Str(s) => Arg::Str(s),
                Tok::Char(c) => Arg::Char(c),
                Tok::Field(f) => {
                    let mut names = vec![f];
                    // Go positions a field chain at its second field.
                    if let Some(p) = self.fields(&mut names) {
                        pos = p;
                    }
                    Arg::Field(names)
                }
                Tok::Var(v) => {
                    if !self.vars.contains(&v) {
                        return Err(self.err(t.line, format!("undefined variable {v:?}")));
                    }
                    let mut names = Vec::new();
                    if let Some(p) = self.fields(&mut names) {
                        pos = p;
                    }
                    Arg::Var(v, names)
                }
                Tok::Ident(name) => {
                    if !(self.funcs)(&name) {
                        return Err(self.err(t.line, format!("function {name:?} not defined")));
                    }
                    Arg::Ident(name)
                }
                Tok::LParen => {
                    self.depth += 1;
                    if self.depth > MAX_PARSE_DEPTH {
                        return Err(self.err(t.line, "parentheses nested too deeply"));
                    }
                    let p = self.pipeline("paren", false)?;
                    self.depth -= 1;
                    let mut names = Vec::new();
                    if let Some(p) = self.fields(&mut names) {
                        pos = p;
                    }
                    Arg::Sub(Box::new(p), names)
                }
                other => {
                    return Err(self.err(
                        t.line,
                        format!("unexpected {} in operand", describe(&other)),
                    ));
                }
            };
            cmd.args.push((pos, arg));
            // Operands must be separated by spaces.
            match self.peek().tok {
                Tok::Space | Tok::Right | Tok::RParen | Tok::Pipe => {}
                ref o => {
                    let line = self.peek().line;
                    return Err(self.err(line, format!("unexpected {} in operand", describe(o))));
                }
            }
        }
        if cmd.args.is_empty() {
            let t = self.peek().clone();
            return Err(self.err(t.line, "missing value for command"));
        }
        Ok(cmd)
    }

    /// Appends chained `.field`s; returns the position of the first one.
    fn fields(&mut self, names: &mut Vec<String>) -> Option<usize> {
        let mut first = None;
        while let Tok::Field(f) = &self.peek().tok {
            first.get_or_insert(self.peek().pos);
            names.push(f.clone());
            self.next();
        }
        first
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Right => "\"}}\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Ident(s) | Tok::Number(s) | Tok::Field(s) | Tok::Var(s) => format!("<{s}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Eof => "EOF".into(),
        o => format!("{o:?}"),
    }
}

/// Parses `src` as the template `name`; `is_func` says which function names exist.
pub(crate) fn parse(
    name: &str,
    src: &str,
    predeclared: &[&str],
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Node>, TemplateError> {
    let toks = Lexer {
        src,
        pos: 0,
        line: 1,
        out: Vec::new(),
        name,
    }
    .run()?;
    let mut p = Parser {
        toks,
        i: 0,
        name,
        vars: std::iter::once("$".to_string())
            .chain(predeclared.iter().map(|s| s.to_string()))
            .collect(),
        funcs: is_func,
        range_depth: 0,
        depth: 0,
    };
    let (nodes, end) = p.list("template")?;
    match end {
        End::Eof => Ok(nodes),
        End::End => {
            let line = p.toks[p.i.saturating_sub(2)].line;
            Err(p.err(line, "unexpected {{end}}"))
        }
        _ => {
            let line = p.toks[p.i.saturating_sub(2)].line;
            Err(p.err(line, "unexpected {{else}}"))
        }
    }
}
