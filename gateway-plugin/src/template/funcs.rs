//! The functions a template may call besides Go's builtins: the Sprig
//! functions Higress's REST-to-MCP servers use (and the common string,
//! number, encoding and date ones), and Higress's `getRealIP` and
//! `getSocketIP`. Each gets its arguments as Go's reflection call would
//! (`Arg`): an object or an array arrives as its JSON text.

use super::dates::{format_time, zone_offset, Time};
use serde_json::Value;

/// A function's argument or result.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Arg {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Time(Time),
}

/// What the functions need from outside the template: the clock,
/// randomness and the request's addresses.
pub trait Env {
    /// Now, in nanoseconds since the Unix epoch.
    fn now_unix_nanos(&self) -> i128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128)
    }

    /// 16 random bytes (for `uuidv4`).
    fn random(&self) -> [u8; 16] {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        let (mut a, mut b) = (state.build_hasher(), state.build_hasher());
        a.write_u8(1);
        b.write_u8(2);
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&a.finish().to_le_bytes());
        bytes[8..].copy_from_slice(&b.finish().to_le_bytes());
        bytes
    }

    /// `getRealIP`: the client's address (first `x-forwarded-for` entry,
    /// else the peer); `None` outside a request.
    fn real_ip(&self) -> Option<String> {
        None
    }

    /// `getSocketIP`: the peer's address; `None` outside a request.
    fn socket_ip(&self) -> Option<String> {
        None
    }
}

/// The environment of a template run outside a request: the system clock
/// and randomness, no addresses.
pub struct NoRequest;

impl Env for NoRequest {}

/// Every function name a template may use (Go refuses others when it
/// parses the template).
pub(super) fn is_function(name: &str) -> bool {
    BUILTINS.contains(&name) || FUNCTIONS.contains(&name)
}

const BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "html", "js", "urlquery", "gjson",
];

/// The functions a template may call besides Go's builtins.
pub const FUNCTIONS: &[&str] = &[
    // Higress's
    "getRealIP",
    "getSocketIP",
    // Sprig: data and defaults
    "default",
    "empty",
    "coalesce",
    "ternary",
    "toJson",
    "toRawJson",
    "toPrettyJson",
    "toString",
    "uuidv4",
    // Sprig: strings
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "repeat",
    "substr",
    "trunc",
    "nospace",
    "cat",
    "join",
    "b64enc",
    "b64dec",
    // Sprig: numbers
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "atoi",
    "int",
    "int64",
    "float64",
    // Sprig: dates
    "now",
    "date",
    "dateInZone",
    "unixEpoch",
];

pub(super) fn call(name: &str, args: &[Arg], env: &dyn Env) -> Result<Arg, String> {
    type Group = fn(&str, &[Arg], &dyn Env) -> Result<Option<Arg>, String>;
    let groups: [Group; 5] = [data, strings, pieces, numbers, dates];
    for group in groups {
        if let Some(result) = group(name, args, env)? {
            return Ok(result);
        }
    }
    Err(format!("function {name:?} not defined"))
}

pub(super) fn arity(args: &[Arg], count: usize) -> Result<(), String> {
    match args.len() == count {
        true => Ok(()),
        false => Err(format!("want {count} arguments, got {}", args.len())),
    }
}

fn at_least(args: &[Arg], count: usize) -> Result<(), String> {
    match args.len() >= count {
        true => Ok(()),
        false => Err(format!(
            "want at least {count} arguments, got {}",
            args.len()
        )),
    }
}

/// Argument `i` as `fmt.Sprint` prints it (`""` if none).
pub(super) fn text(args: &[Arg], i: usize) -> String {
    args.get(i).map(strval).unwrap_or_default()
}

/// Argument `i`, which must be a string.
pub(super) fn string(args: &[Arg], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(Arg::Str(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "argument {} is {}, not a string",
            i + 1,
            kind(other)
        )),
        None => Err(format!("missing argument {}", i + 1)),
    }
}

/// Higress's functions, defaults, emptiness, JSON, `uuidv4`.
fn data(name: &str, args: &[Arg], env: &dyn Env) -> Result<Option<Arg>, String> {
    Ok(Some(match name {
        "getRealIP" => Arg::Str(env.real_ip().unwrap_or_default()),
        "getSocketIP" => Arg::Str(env.socket_ip().unwrap_or_default()),
        "default" => {
            at_least(args, 1)?;
            match args.get(1) {
                Some(given) if !empty(given) => given.clone(),
                _ => args[0].clone(),
            }
        }
        "empty" => {
            arity(args, 1)?;
            Arg::Bool(empty(&args[0]))
        }
        "coalesce" => args.iter().find(|a| !empty(a)).cloned().unwrap_or(Arg::Nil),
        "ternary" => {
            arity(args, 3)?;
            match args[2] {
                Arg::Bool(true) => args[0].clone(),
                Arg::Bool(false) => args[1].clone(),
                ref other => return Err(format!("condition is {}, not a bool", kind(other))),
            }
        }
        "toJson" | "toRawJson" | "toPrettyJson" => {
            arity(args, 1)?;
            let value = to_value(&args[0]);
            Arg::Str(match name {
                "toJson" => go_json(&value),
                "toRawJson" => value.to_string(),
                _ => serde_json::to_string_pretty(&value).unwrap_or_default(),
            })
        }
        "toString" => {
            arity(args, 1)?;
            Arg::Str(text(args, 0))
        }
        "uuidv4" => {
            arity(args, 0)?;
            Arg::Str(uuid_v4(env.random()))
        }
        _ => return Ok(None),
    }))
}

/// Sprig's string and encoding functions.
fn strings(name: &str, args: &[Arg], _env: &dyn Env) -> Result<Option<Arg>, String> {
    Ok(Some(match name {
        "upper" | "lower" | "title" | "trim" | "nospace" | "quote" | "squote" | "b64enc"
        | "b64dec" => {
            let joined = args.iter().map(strval).collect::<Vec<_>>();
            let s = text(args, 0);
            Arg::Str(match name {
                "upper" => s.to_uppercase(),
                "lower" => s.to_lowercase(),
                "title" => title(&s),
                "trim" => s.trim().to_string(),
                "nospace" => s.chars().filter(|c| !c.is_whitespace()).collect(),
                "quote" => joined
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                "squote" => joined
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(" "),
                "b64enc" => base64_encode(s.as_bytes()),
                _ => base64_decode(&s),
            })
        }
        "trimAll" | "trimPrefix" | "trimSuffix" => {
            arity(args, 2)?;
            let (cut, s) = (text(args, 0), text(args, 1));
            Arg::Str(match name {
                "trimAll" => s.trim_matches(|c| cut.contains(c)).to_string(),
                "trimPrefix" => s.strip_prefix(cut.as_str()).unwrap_or(&s).to_string(),
                _ => s.strip_suffix(cut.as_str()).unwrap_or(&s).to_string(),
            })
        }
        "replace" => {
            arity(args, 3)?;
            Arg::Str(text(args, 2).replace(&text(args, 0), &text(args, 1)))
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(args, 2)?;
            let (needle, s) = (text(args, 0), text(args, 1));
            Arg::Bool(match name {
                "contains" => s.contains(&needle),
                "hasPrefix" => s.starts_with(&needle),
                _ => s.ends_with(&needle),
            })
        }
        _ => return Ok(None),
    }))
}

/// Sprig's functions that cut, repeat and join strings.
fn pieces(name: &str, args: &[Arg], _env: &dyn Env) -> Result<Option<Arg>, String> {
    Ok(Some(match name {
        "repeat" => {
            arity(args, 2)?;
            Arg::Str(text(args, 1).repeat(int(&args[0]).max(0) as usize))
        }
        "substr" => {
            arity(args, 3)?;
            let s = text(args, 2);
            let (start, end) = (int(&args[0]), int(&args[1]));
            let len = s.len() as i64;
            let start = if start < 0 { 0 } else { start.min(len) };
            let end = if end < 0 || end > len {
                len
            } else {
                end.max(start)
            };
            Arg::Str(
                s.get(start as usize..end as usize)
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        "trunc" => {
            arity(args, 2)?;
            let (n, s) = (int(&args[0]), text(args, 1));
            let len = s.len() as i64;
            Arg::Str(match n {
                n if n < 0 => s.get((len + n).max(0) as usize..).unwrap_or(&s).to_string(),
                n => s.get(..n.min(len) as usize).unwrap_or(&s).to_string(),
            })
        }
        "cat" => Arg::Str(
            args.iter()
                .filter(|a| **a != Arg::Nil)
                .map(strval)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "join" => {
            arity(args, 2)?;
            // Sprig: join(sep, list); a list that is not one is one item.
            let separator = string(args, 0)?;
            match &args[1] {
                Arg::Nil => Arg::Str(String::new()),
                Arg::Str(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Array(items)) if s.trim_start().starts_with('[') => Arg::Str(
                        items
                            .iter()
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(&separator),
                    ),
                    _ => Arg::Str(s.clone()),
                },
                other => Arg::Str(strval(other)),
            }
        }
        _ => return Ok(None),
    }))
}

/// Sprig's integer and float functions.
fn numbers(name: &str, args: &[Arg], _env: &dyn Env) -> Result<Option<Arg>, String> {
    Ok(Some(match name {
        "add" => Arg::Int(args.iter().map(int).fold(0i64, i64::wrapping_add)),
        "add1" => {
            arity(args, 1)?;
            Arg::Int(int(&args[0]).wrapping_add(1))
        }
        "sub" | "mul" | "div" | "mod" => {
            arity(args, 2)?;
            let (a, b) = (int(&args[0]), int(&args[1]));
            Arg::Int(match name {
                "sub" => a.wrapping_sub(b),
                "mul" => a.wrapping_mul(b),
                _ if b == 0 => return Err("integer divide by zero".to_string()),
                "div" => a.wrapping_div(b),
                _ => a.wrapping_rem(b),
            })
        }
        "max" | "min" => {
            at_least(args, 1)?;
            let numbers = args.iter().map(int);
            Arg::Int(match name {
                "max" => numbers.max().unwrap_or(0),
                _ => numbers.min().unwrap_or(0),
            })
        }
        "atoi" => {
            arity(args, 1)?;
            Arg::Int(text(args, 0).parse().unwrap_or(0))
        }
        "int" | "int64" => {
            arity(args, 1)?;
            Arg::Int(int(&args[0]))
        }
        "float64" => {
            arity(args, 1)?;
            Arg::Float(float(&args[0]))
        }
        _ => return Ok(None),
    }))
}

fn kind(arg: &Arg) -> &'static str {
    match arg {
        Arg::Nil => "nil",
        Arg::Bool(_) => "bool",
        Arg::Int(_) => "int",
        Arg::Float(_) => "float64",
        Arg::Str(_) => "string",
        Arg::Time(_) => "time.Time",
    }
}

/// Sprig's `empty`: nil, false, zero and `""` are empty (an object or an
/// array arrives as its JSON text, so it is not).
fn empty(arg: &Arg) -> bool {
    match arg {
        Arg::Nil => true,
        Arg::Bool(b) => !b,
        Arg::Int(i) => *i == 0,
        Arg::Float(f) => *f == 0.0,
        Arg::Str(s) => s.is_empty(),
        Arg::Time(_) => false,
    }
}

/// Go's `fmt.Sprint` of an argument.
fn strval(arg: &Arg) -> String {
    match arg {
        Arg::Nil => "<nil>".to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => go_float(*f),
        Arg::Str(s) => s.clone(),
        Arg::Time(t) => t.to_string(),
    }
}

/// Go's `%v` of a JSON number or bool (a string as is, anything else as
/// Go's JSON).
#[cfg(feature = "mcp")]
pub(crate) fn go_value_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => go_json(other),
    }
}

/// Go's `%v` of a float64: the shortest form, exponent from 1e21.
fn go_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f.is_nan() {
        return "NaN".to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        return format!(
            "{mantissa}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
    format!("{f}")
}

/// Sprig's `toInt64` (via cast): numbers truncated, numeric strings
/// parsed, `true` is 1; anything else 0.
fn int(arg: &Arg) -> i64 {
    match arg {
        Arg::Int(i) => *i,
        Arg::Float(f) => *f as i64,
        Arg::Bool(b) => i64::from(*b),
        Arg::Str(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64))
            .unwrap_or(0),
        Arg::Nil | Arg::Time(_) => 0,
    }
}

fn float(arg: &Arg) -> f64 {
    match arg {
        Arg::Int(i) => *i as f64,
        Arg::Float(f) => *f,
        Arg::Bool(b) => f64::from(u8::from(*b)),
        Arg::Str(s) => s.trim().parse().unwrap_or(0.0),
        Arg::Nil | Arg::Time(_) => 0.0,
    }
}

fn to_value(arg: &Arg) -> Value {
    match arg {
        Arg::Nil => Value::Null,
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Int(i) => Value::from(*i),
        Arg::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Time(t) => Value::String(t.rfc3339()),
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Sprig's `b64dec`: the decoded text (lossy), or Go's error text.
fn base64_decode(text: &str) -> String {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(
            base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _),
        ) => {
            format!("illegal base64 data at input byte {at}")
        }
        Err(_) => format!("illegal base64 data at input byte {}", text.len()),
    }
}

/// Go's `html/template`-style `html` escaping.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `js` escaping.
pub(super) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\u000A"),
            '\r' => out.push_str("\\u000D"),
            '\t' => out.push_str("\\u0009"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `printf`'s verbs: `%s %v %d %f %.Nf %q %t %x %%`, as Go's `fmt` writes
/// them; a missing argument is `%!v(MISSING)`.
pub(super) fn sprintf(format: &str, args: &[Arg]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = digits.parse::<usize>().ok().or(Some(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let written = match (verb, arg) {
            ('v' | 's', Arg::Nil) if verb == 'v' => "<nil>".to_string(),
            ('s', Arg::Nil) => "%!s(<nil>)".to_string(),
            ('v' | 's', other) => strval(other),
            ('d', Arg::Int(i)) => i.to_string(),
            ('f' | 'F', Arg::Float(f)) => format!("{f:.*}", precision.unwrap_or(6)),
            ('f' | 'F', Arg::Int(i)) => format!("%!f(int={i})"),
            ('q', Arg::Str(s)) => format!("{s:?}"),
            ('t', Arg::Bool(b)) => b.to_string(),
            ('x', Arg::Int(i)) => format!("{i:x}"),
            ('x', Arg::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            (verb, other) => format!("%!{verb}({}={})", kind(other), strval(other)),
        };
        out.push_str(&written);
    }
    let extra: Vec<String> = args.map(|a| format!("{}={}", kind(a), strval(a))).collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// Writes `value` as Go's `encoding/json` does: `<`, `>`, `&`, U+2028 and
/// U+2029 escaped in strings.
pub(crate) fn go_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The date functions.
fn dates(name: &str, args: &[Arg], env: &dyn Env) -> Result<Option<Arg>, String> {
    Ok(Some(match name {
        "now" => {
            arity(args, 0)?;
            Arg::Time(Time {
                unix_nanos: env.now_unix_nanos(),
                offset: 0,
                zone: "UTC",
            })
        }
        "unixEpoch" => {
            arity(args, 1)?;
            Arg::Int(to_time(&args[0], env).unix_nanos.div_euclid(1_000_000_000) as i64)
        }
        "date" => {
            arity(args, 2)?;
            Arg::Str(format_time(&string(args, 0)?, to_time(&args[1], env)))
        }
        "dateInZone" => {
            arity(args, 3)?;
            let zone = text(args, 2);
            let (offset, abbreviation) =
                zone_offset(&zone).ok_or_else(|| format!("unknown time zone {zone}"))?;
            let time = Time {
                offset,
                zone: abbreviation,
                ..to_time(&args[1], env)
            };
            Arg::Str(format_time(&string(args, 0)?, time))
        }
        _ => return Ok(None),
    }))
}

/// Sprig's `toDate` fallbacks: a time, Unix seconds, else now.
fn to_time(arg: &Arg, env: &dyn Env) -> Time {
    match arg {
        Arg::Time(time) => *time,
        Arg::Int(seconds) => Time {
            unix_nanos: i128::from(*seconds) * 1_000_000_000,
            offset: 0,
            zone: "UTC",
        },
        _ => Time {
            unix_nanos: env.now_unix_nanos(),
            offset: 0,
            zone: "UTC",
        },
    }
}
