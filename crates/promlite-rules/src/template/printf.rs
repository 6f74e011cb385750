//! Go's `fmt` verbs as templates use them (`printf`, `print`, `println`), and
//! Go's float spellings (`%v`, `%g`, `%e`, `%f`).

use super::Value;

/// Go's `%v` of a float64 (`strconv` `'g'`, shortest): `1e+06`, `123456`, `+Inf`.
pub fn format_v_float(v: f64) -> String {
    promlite_model::format_go_g(v)
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Significant digits (trailing zeros trimmed) and decimal exponent of `|v|`
/// rounded to `prec + 1` significant digits.
fn sci_digits(v: f64, prec: usize) -> (String, i32) {
    let s = format!("{:.*e}", prec, v.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let mut digits: String = m.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, e.parse().unwrap_or(0))
}

fn special(v: f64, plus: bool) -> Option<String> {
    if v.is_nan() {
        Some(if plus { "+NaN" } else { "NaN" }.into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `%e` with `prec` digits after the point (`1.234560e+06`).
pub fn fmt_e(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let s = format!("{:.*e}", prec, v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let out = format!("{m}e{sign}{:02}", e.abs());
    if upper {
        out.to_uppercase()
    } else {
        out
    }
}

/// Go's `%f` with `prec` digits after the point.
pub fn fmt_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    format!("{:.*}", prec, v)
}

/// Go's `%g` with an explicit precision (`%.4g`); `None` for the shortest form.
pub fn fmt_g(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let Some(p) = prec else {
        let s = format_v_float(v);
        return if upper { s.to_uppercase() } else { s };
    };
    let p = p.max(1);
    let (digits, exp) = sci_digits(v, p - 1);
    let nd = digits.len();
    let dp = exp + 1;
    let mut eprec = p;
    if eprec > nd && nd as i32 >= dp {
        eprec = nd;
    }
    if exp < -4 || exp >= eprec as i32 {
        let pr = p.min(nd);
        return fmt_e(v, pr - 1, upper);
    }
    let pr = if p as i32 > dp { nd } else { p };
    fmt_f(v, (pr as i32 - dp).max(0) as usize)
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if sp.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if sp.zero && numeric && !s.ends_with("Inf") && !s.ends_with("NaN") {
        let (sign, rest) = match s.strip_prefix(['-', '+', ' ']) {
            Some(r) => (&s[..1], r),
            None => ("", &s[..]),
        };
        return format!("{sign}{}{rest}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil | Value::Missing => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), v.go_string()),
    }
}

fn with_sign(s: String, sp: &Spec, neg: bool) -> String {
    if neg {
        s
    } else if sp.plus {
        format!("+{s}")
    } else if sp.space {
        format!(" {s}")
    } else {
        s
    }
}

fn fmt_one(verb: char, sp: &Spec, v: &Value) -> String {
    match (verb, v) {
        ('v', Value::Float(f)) => pad(
            with_sign(fmt_g(*f, sp.prec, false), sp, *f < 0.0 || f.is_nan()),
            sp,
            true,
        ),
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => {
            pad(with_sign(i.to_string(), sp, *i < 0), sp, true)
        }
        ('v', Value::Str(s)) | ('s', Value::Str(s)) => {
            let s = match sp.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            pad(s, sp, false)
        }
        ('v', other)
        | (
            's',
            other @ (Value::Map(_)
            | Value::AnyMap(_)
            | Value::Struct(_)
            | Value::Sample(_)
            | Value::Samples(_)),
        ) => pad(other.go_string(), sp, false),
        ('t', Value::Bool(b)) => pad(b.to_string(), sp, false),
        ('q', Value::Str(s)) => pad(go_quote(s), sp, false),
        ('q', Value::Int(i)) => {
            let c = char::from_u32(*i as u32).unwrap_or('\u{fffd}');
            pad(
                format!("'{}'", go_quote(&c.to_string()).trim_matches('"')),
                sp,
                false,
            )
        }
        ('c', Value::Int(i)) => pad(
            char::from_u32(*i as u32).unwrap_or('\u{fffd}').to_string(),
            sp,
            false,
        ),
        ('x', Value::Int(i)) => pad(
            format!("{}{:x}", if sp.sharp { "0x" } else { "" }, i),
            sp,
            true,
        ),
        ('X', Value::Int(i)) => pad(
            format!("{}{:X}", if sp.sharp { "0X" } else { "" }, i),
            sp,
            true,
        ),
        ('o', Value::Int(i)) => pad(format!("{:o}", i), sp, true),
        ('b', Value::Int(i)) => pad(format!("{:b}", i), sp, true),
        ('x', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02x}")).collect(), sp, false),
        ('X', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02X}")).collect(), sp, false),
        ('e' | 'E', Value::Float(f)) => pad(
            with_sign(fmt_e(*f, sp.prec.unwrap_or(6), verb == 'E'), sp, *f < 0.0),
            sp,
            true,
        ),
        ('f' | 'F', Value::Float(f)) => pad(
            with_sign(fmt_f(*f, sp.prec.unwrap_or(6)), sp, *f < 0.0),
            sp,
            true,
        ),
        ('g' | 'G', Value::Float(f)) => pad(
            with_sign(fmt_g(*f, sp.prec, verb == 'G'), sp, *f < 0.0),
            sp,
            true,
        ),
        ('T', v) => pad(v.type_name().to_string(), sp, false),
        (verb, v) => bad_verb(verb, v),
    }
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&f) = it.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                ' ' => sp.space = true,
                '0' => sp.zero = true,
                _ => break,
            }
            it.next();
        }
        let num = |it: &mut std::iter::Peekable<std::str::Chars<'_>>,
                   argi: &mut usize|
         -> Option<usize> {
            if it.peek() == Some(&'*') {
                it.next();
                let v = args.get(*argi);
                *argi += 1;
                return match v {
                    Some(Value::Int(i)) if *i >= 0 => Some(*i as usize),
                    _ => None,
                };
            }
            let mut n: Option<usize> = None;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                n = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(d as usize)
                        .min(1 << 16),
                );
                it.next();
            }
            n
        };
        sp.width = num(&mut it, &mut argi);
        if it.peek() == Some(&'.') {
            it.next();
            sp.prec = Some(num(&mut it, &mut argi).unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argi) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(v) => out.push_str(&fmt_one(verb, &sp, v)),
        }
        argi += 1;
    }
    if argi < args.len() {
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|v| match v {
                Value::Nil | Value::Missing => "<nil>".to_string(),
                v => format!("{}={}", v.type_name(), v.go_string()),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.go_string());
    }
    out
}

/// Go's `fmt.Sprintln`: always spaces, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(Value::go_string).collect();
    format!("{}\n", parts.join(" "))
}
