//! Tokenizer for PromQL (Prometheus 3 lexical rules, spec §2).

use super::ast::Span;

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Assign,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    ReMatch,
    ReNoMatch,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    At,
    /// An identifier or keyword; `colon` when it contains `:` (metric-only).
    Ident {
        text: String,
        colon: bool,
    },
    /// A number literal (value already parsed).
    Number(f64),
    /// A duration literal in milliseconds.
    Duration(i64),
    /// A string literal (unescaped).
    Str(String),
    /// A lexing error; the token stream ends here. The parser reports it when it
    /// reaches it, so that grammar errors earlier in the input win, as in
    /// Prometheus's lazily-lexing parser.
    Error(String),
    Eof,
}

/// A token with its span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// A lexing error: position and message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LexError {
    pub span: Span,
    pub message: String,
}

fn is_alpha(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: u8) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Tokenizes the whole query. Tracks brace/bracket/paren nesting the way the
/// Prometheus lexer does so that unbalanced input gets its messages.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut out = Vec::new();
    if let Err(e) = lex_into(src, &mut out) {
        out.push(Token {
            tok: Tok::Error(e.message),
            span: e.span,
        });
    }
    out
}

// One `match` per delimiter kind reads better than guards with side effects.
#[allow(clippy::collapsible_match)]
fn lex_into(src: &str, out: &mut Vec<Token>) -> Result<(), LexError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_braces = false;
    let mut in_brackets = false;
    let mut colon_seen = false;
    let mut parens: Vec<usize> = Vec::new();
    let err = |s: usize, e: usize, m: String| LexError {
        span: Span::new(s, e),
        message: m,
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let next = b.get(i + 1).copied();
        let bang_ok = next == Some(b'=') || (in_braces && next == Some(b'~'));
        if (c == b'!' && !bang_ok) || (c == b'=' && next == Some(b'~') && !in_braces) {
            let after = src[i + 1..].chars().next().unwrap_or(' ');
            let what = if in_braces { " inside braces" } else { "" };
            return Err(err(
                start,
                start + 1,
                format!(
                    "unexpected character after '{}'{what}: {}",
                    c as char,
                    go_quote_char(after)
                ),
            ));
        }
        let single = |t: Tok| Some((t, 1));
        let two = |t: Tok| Some((t, 2));
        let punct = match c {
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'{' => single(Tok::LBrace),
            b'}' => single(Tok::RBrace),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b'=' if next == Some(b'=') => two(Tok::Eql),
            b'=' if next == Some(b'~') && in_braces => two(Tok::ReMatch),
            b'=' => single(Tok::Assign),
            b'!' if next == Some(b'=') => two(Tok::Neq),
            b'!' if next == Some(b'~') && in_braces => two(Tok::ReNoMatch),
            b'>' if next == Some(b'=') => two(Tok::Gte),
            b'>' => single(Tok::Gtr),
            b'<' if next == Some(b'=') => two(Tok::Lte),
            b'<' => single(Tok::Lss),
            b'+' => single(Tok::Add),
            b'-' => single(Tok::Sub),
            b'*' => single(Tok::Mul),
            b'/' => single(Tok::Div),
            b'%' => single(Tok::Mod),
            b'^' => single(Tok::Pow),
            b'@' => single(Tok::At),
            b':' if in_brackets => single(Tok::Colon),
            _ => None,
        };
        if let Some((tok, len)) = punct {
            let span = Span::new(start, start + len);
            match tok {
                Tok::LParen => parens.push(start),
                Tok::RParen => {
                    if parens.pop().is_none() {
                        return Err(err(
                            start + 1,
                            start + 1,
                            "unexpected right parenthesis ')'".into(),
                        ));
                    }
                }
                Tok::LBrace => {
                    if in_braces {
                        return Err(err(start, start + 1, "unexpected left brace '{'".into()));
                    }
                    in_braces = true;
                }
                Tok::RBrace => {
                    if !in_braces {
                        return Err(err(start, start + 1, "unexpected character: '}'".into()));
                    }
                    in_braces = false;
                }
                Tok::LBracket => {
                    if in_brackets {
                        return Err(err(start, start + 1, "unexpected left bracket '['".into()));
                    }
                    in_brackets = true;
                    colon_seen = false;
                }
                Tok::Colon => {
                    if colon_seen {
                        return Err(err(start, start + 1, "unexpected colon ':'".into()));
                    }
                    colon_seen = true;
                }
                Tok::RBracket => {
                    if !in_brackets {
                        return Err(err(start, start + 1, "unexpected right bracket ']'".into()));
                    }
                    in_brackets = false;
                }
                _ => {}
            }
            if in_braces
                && !matches!(
                    tok,
                    Tok::LBrace
                        | Tok::RBrace
                        | Tok::Comma
                        | Tok::Assign
                        | Tok::Neq
                        | Tok::ReMatch
                        | Tok::ReNoMatch
                )
            {
                return Err(err(
                    start,
                    start + len,
                    format!(
                        "unexpected character inside braces: {}",
                        go_quote_char(src[start..].chars().next().unwrap_or(' '))
                    ),
                ));
            }
            out.push(Token { tok, span });
            i += len;
            continue;
        }
        if c == b'"' || c == b'\'' {
            let (s, end) = lex_quoted(src, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if c == b'`' {
            match src[i + 1..].find('`') {
                Some(off) => {
                    let end = i + 1 + off + 1;
                    out.push(Token {
                        tok: Tok::Str(src[i + 1..end - 1].to_string()),
                        span: Span::new(start, end),
                    });
                    i = end;
                    continue;
                }
                None => return Err(err(start, b.len(), "unterminated raw string".into())),
            }
        }
        if in_braces {
            if is_alpha(c) {
                while i < b.len() && is_alnum(b[i]) {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident {
                        text: src[start..i].to_string(),
                        colon: false,
                    },
                    span: Span::new(start, i),
                });
                continue;
            }
            let ch = src[i..].chars().next().unwrap_or(' ');
            return Err(err(
                start,
                start + ch.len_utf8(),
                format!("unexpected character inside braces: {}", go_quote_char(ch)),
            ));
        }
        if c.is_ascii_digit() || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let (tok, end) = lex_number_or_duration(src, i)?;
            out.push(Token {
                tok,
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if is_alpha(c) || c == b':' {
            while i < b.len() && (is_alnum(b[i]) || b[i] == b':') {
                i += 1;
            }
            let text = &src[start..i];
            let tok = if text.eq_ignore_ascii_case("inf") {
                Tok::Number(f64::INFINITY)
            } else if text.eq_ignore_ascii_case("nan") {
                Tok::Number(f64::NAN)
            } else {
                Tok::Ident {
                    text: text.to_string(),
                    colon: text.contains(':'),
                }
            };
            out.push(Token {
                tok,
                span: Span::new(start, i),
            });
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or(' ');
        return Err(err(
            start,
            start + ch.len_utf8(),
            format!("unexpected character: {}", go_quote_char(ch)),
        ));
    }
    if in_braces {
        return Err(err(
            b.len(),
            b.len(),
            "unexpected end of input inside braces".into(),
        ));
    }
    if in_brackets {
        return Err(err(b.len(), b.len(), "unclosed left bracket".into()));
    }
    if !parens.is_empty() {
        return Err(err(b.len(), b.len(), "unclosed left parenthesis".into()));
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(b.len(), b.len()),
    });
    Ok(())
}

/// Go's `%q` of a rune: `'x'`, with escapes for specials.
pub(crate) fn go_quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        '\n' => "'\\n'".into(),
        '\t' => "'\\t'".into(),
        '\r' => "'\\r'".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// Lexes `"..."` or `'...'` starting at `start`, with Go escapes. Returns the
/// unescaped text and the end offset. `\xHH` and octal escapes are raw bytes, as in
/// Go; a result that is not valid UTF-8 is converted lossily (see
/// [`quoted_literal_is_utf8`] for the check Prometheus makes on such strings).
fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), LexError> {
    let (out, end) = lex_quoted_bytes(src, start)?;
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok((text, end))
}

/// False when `literal` (the source text of a `"..."` or `'...'` string literal) unquotes
/// to bytes that are not valid UTF-8, e.g. `"\xff"`: Go keeps such bytes in the string,
/// and Prometheus then rejects it where a label name is required. True for anything
/// else (including raw-string literals, which cannot contain escapes).
pub(crate) fn quoted_literal_is_utf8(literal: &str) -> bool {
    if !(literal.starts_with('"') || literal.starts_with('\'')) {
        return true;
    }
    match lex_quoted_bytes(literal, 0) {
        Ok((bytes, _)) => std::str::from_utf8(&bytes).is_ok(),
        Err(_) => true,
    }
}

/// The byte-level core of [`lex_quoted`].
fn lex_quoted_bytes(src: &str, start: usize) -> Result<(Vec<u8>, usize), LexError> {
    let b = src.as_bytes();
    let q = b[start];
    let mut out: Vec<u8> = Vec::new();
    let mut i = start + 1;
    let unterminated = |i: usize| LexError {
        span: Span::new(start, i),
        message: "unterminated quoted string".into(),
    };
    loop {
        let Some(ch) = src[i..].chars().next() else {
            return Err(unterminated(i));
        };
        if ch == '\n' {
            return Err(unterminated(i));
        }
        if ch as u32 == q as u32 {
            return Ok((out, i + 1));
        }
        if ch != '\\' {
            push_char(&mut out, ch);
            i += ch.len_utf8();
            continue;
        }
        let esc_start = i;
        i += 1;
        let Some(e) = src[i..].chars().next() else {
            return Err(unterminated(i));
        };
        i += e.len_utf8();
        let bad = |i: usize, m: &str| LexError {
            span: Span::new(start, i.max(esc_start)),
            message: m.to_string(),
        };
        // The first character of `digits` that is not a digit of `radix`.
        let illegal = |digits: &str, radix: u32| {
            digits.chars().find(|c| !c.is_digit(radix)).map(|c| {
                format!(
                    "illegal character U+{:04X} {} in escape sequence",
                    c as u32,
                    go_quote_char(c)
                )
            })
        };
        match e {
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            c if c as u32 == q as u32 => out.push(q),
            '0'..='7' => {
                let digits: String = src[i - 1..].chars().take(3).collect();
                let digits = digits.as_str();
                if let Some(m) = illegal(digits, 8) {
                    return Err(bad(i, &m));
                }
                if digits.len() < 3 {
                    return Err(bad(i, "escape sequence not terminated"));
                }
                let v = u32::from_str_radix(digits, 8).unwrap_or(256);
                if v > 255 {
                    return Err(bad(
                        i + 2,
                        "escape sequence is an invalid Unicode code point",
                    ));
                }
                out.push(v as u8);
                i += 2;
            }
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = src[i..].chars().take(n).collect();
                let digits = digits.as_str();
                if let Some(m) = illegal(digits, 16) {
                    return Err(bad(i, &m));
                }
                if digits.len() < n {
                    return Err(bad(i, "escape sequence not terminated"));
                }
                let v = u32::from_str_radix(digits, 16).unwrap_or(u32::MAX);
                i += n;
                if e == 'x' {
                    out.push(v as u8);
                } else {
                    match char::from_u32(v) {
                        Some(c) => push_char(&mut out, c),
                        None => {
                            return Err(bad(i, "escape sequence is an invalid Unicode code point"))
                        }
                    }
                }
            }
            other => {
                return Err(LexError {
                    span: Span::new(start, i),
                    message: format!(
                        "unknown escape sequence U+{:04X} {}",
                        other as u32,
                        go_quote_char(other)
                    ),
                })
            }
        }
    }
}

/// Appends a char as UTF-8. `\xHH` and octal escapes append raw bytes, as in Go;
/// a result that is not valid UTF-8 is converted lossily.
fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Lexes a number or a duration at `start`.
fn lex_number_or_duration(src: &str, start: usize) -> Result<(Tok, usize), LexError> {
    let b = src.as_bytes();
    // Duration: one or more <digits><unit>, followed by a non-alphanumeric.
    if let Some((ms, end)) = scan_duration(b, start) {
        return match ms {
            Some(ms) => Ok((Tok::Duration(ms), end)),
            None => Err(LexError {
                span: Span::new(start, end),
                message: "duration out of range".into(),
            }),
        };
    }
    let mut i = start;
    let digits: &[u8] = if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        b"0123456789abcdefABCDEF_"
    } else {
        b"0123456789_"
    };
    while i < b.len() && digits.contains(&b[i]) {
        i += 1;
    }
    let hex = digits.len() > 11;
    if !hex && i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && digits.contains(&b[i]) {
            i += 1;
        }
    }
    if !hex && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        while i < b.len() && b"0123456789_".contains(&b[i]) {
            i += 1;
        }
    }
    let num_end = i;
    if i < b.len() && (is_alnum(b[i]) || b[i] == b'.') {
        let mut end = i;
        while end < b.len() && (is_alnum(b[end]) || b[end] == b'.') {
            end += 1;
        }
        let word = &src[start..end];
        // Digits, dots and duration units only: a malformed duration (`1.5h`, `30m1h`).
        let duration_like = word.bytes().any(|c| b"ywdhms".contains(&c))
            && word
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'.' || b"ywdhms".contains(&c));
        let message = if duration_like {
            format!("not a valid duration string: {word:?}")
        } else {
            format!("bad number or duration syntax: {:?}", &src[start..num_end])
        };
        return Err(LexError {
            span: Span::new(start, end),
            message,
        });
    }
    let text = &src[start..num_end];
    match parse_number(text) {
        Some(v) => Ok((Tok::Number(v), num_end)),
        None => Err(LexError {
            span: Span::new(start, num_end),
            message: format!(
                "error parsing number: strconv.ParseFloat: parsing {text:?}: invalid syntax"
            ),
        }),
    }
}

/// Parses number text the way Prometheus does: Go `ParseInt(s, 0, 64)` first (hex,
/// octal with a leading zero, underscores), then `ParseFloat`.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let clean = strip_underscores(text)?;
    let s = clean.as_str();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() {
            return None;
        }
        return match i64::from_str_radix(h, 16) {
            Ok(v) => Some(v as f64),
            // Go's ParseFloat rejects a hex mantissa without a `p` exponent.
            Err(_) => None,
        };
    }
    if s.bytes().all(|c| c.is_ascii_digit()) {
        if s.len() > 1 && s.starts_with('0') {
            if let Ok(v) = i64::from_str_radix(&s[1..], 8) {
                return Some(v as f64);
            }
        } else if let Ok(v) = s.parse::<i64>() {
            return Some(v as f64);
        }
    }
    // Rust's float parser accepts the same decimal syntax as Go's for what the
    // lexer lets through (`1.`, `.5`, `1e3`); `1e` and `1e+` fail in both.
    s.parse::<f64>().ok()
}

/// Removes `_` digit separators, accepting them only between digits (or right
/// after a `0x` prefix), as Go literal syntax does.
fn strip_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let hex = s.starts_with("0x") || s.starts_with("0X");
    for (i, &c) in b.iter().enumerate() {
        if c != b'_' {
            continue;
        }
        let prev_ok = i > 0
            && (b[i - 1].is_ascii_hexdigit() && (hex || b[i - 1].is_ascii_digit())
                || (hex && i == 2));
        let next_ok = b
            .get(i + 1)
            .is_some_and(|n| n.is_ascii_digit() || (hex && n.is_ascii_hexdigit()));
        if !prev_ok || !next_ok {
            return None;
        }
    }
    Some(s.replace('_', ""))
}

/// Tries to read a duration (`1h30m`, `5m`, `100ms`) at `start`. Returns `None`
/// when the text is not shaped like a duration; `Some((None, end))` when it is but
/// overflows.
fn scan_duration(b: &[u8], start: usize) -> Option<(Option<i64>, usize)> {
    const UNITS: [(&[u8], i64); 7] = [
        (b"y", 365 * 24 * 3_600_000),
        (b"w", 7 * 24 * 3_600_000),
        (b"d", 24 * 3_600_000),
        (b"h", 3_600_000),
        (b"ms", 1),
        (b"m", 60_000),
        (b"s", 1000),
    ];
    // Order in which units may appear: y w d h m s ms.
    fn rank(u: &[u8]) -> usize {
        match u {
            b"y" => 0,
            b"w" => 1,
            b"d" => 2,
            b"h" => 3,
            b"m" => 4,
            b"s" => 5,
            _ => 6,
        }
    }
    let mut i = start;
    let mut total: Option<i64> = Some(0);
    let mut last_rank: Option<usize> = None;
    let mut groups = 0;
    loop {
        let ds = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == ds {
            break;
        }
        let unit = UNITS.iter().find(|(u, _)| b[i..].starts_with(u));
        let Some(&(u, mult)) = unit else {
            if groups == 0 {
                return None;
            }
            // Digits without unit after a duration: not a duration.
            return None;
        };
        let r = rank(u);
        if last_rank.is_some_and(|l| r <= l) {
            return None;
        }
        last_rank = Some(r);
        let n: Option<i64> = std::str::from_utf8(&b[ds..i])
            .ok()
            .and_then(|s| s.parse().ok());
        total = total
            .zip(n)
            .and_then(|(t, n)| n.checked_mul(mult).and_then(|v| t.checked_add(v)));
        i += u.len();
        groups += 1;
    }
    if groups == 0 || (i < b.len() && (is_alnum(b[i]) || b[i] == b'.')) {
        return None;
    }
    // Prometheus keeps durations in nanoseconds: ~292 years max.
    let total = total.filter(|&t| t.checked_mul(1_000_000).is_some());
    Some((total, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_follow_go_rules() {
        assert_eq!(parse_number("0755"), Some(493.0));
        assert_eq!(parse_number("08"), Some(8.0));
        assert_eq!(parse_number("0x1F"), Some(31.0));
        assert_eq!(parse_number("1_000"), Some(1000.0));
        assert_eq!(parse_number("1__0"), None);
        assert_eq!(parse_number("1."), Some(1.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("1e"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(toks("1h30m"), vec![Tok::Duration(5_400_000), Tok::Eof]);
        assert_eq!(toks("100ms"), vec![Tok::Duration(100), Tok::Eof]);
        let err = |s: &str| matches!(toks(s)[0], Tok::Error(_));
        assert!(err("30m1h"));
        assert!(err("1.5h"));
    }

    #[test]
    fn strings_unescape_like_go() {
        assert_eq!(toks(r#""a\n\x41\u00e9\101""#)[0], Tok::Str("a\nAéA".into()));
        assert_eq!(toks(r"'it\'s'")[0], Tok::Str("it's".into()));
        assert_eq!(toks(r"`a\d`")[0], Tok::Str(r"a\d".into()));
        assert_eq!(
            toks(r#""\d""#)[0],
            Tok::Error("unknown escape sequence U+0064 'd'".into())
        );
    }
}
