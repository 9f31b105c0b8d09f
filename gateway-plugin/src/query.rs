//! The query string of a request's `:path`, parsed and written back by Go's
//! rules (`net/url`'s `ParseQuery`, `QueryUnescape`, `QueryEscape`), so a
//! port of a Higress plugin finds the same parameters Go finds.
//!
//! A [`Query`] keeps the pairs in the client's order. A pair Go refuses (a
//! `;` in it, a bad `%` escape) is not a parameter, but it is kept as the
//! client sent it and written back unchanged, as is every pair the plugin
//! did not touch: rewriting one parameter changes nothing else in the path.

use std::fmt;

/// A parsed query string: `a=1&b=x+y` is `a` → `1`, `b` → `x y`.
///
/// ```
/// use gateway_plugin::query::Query;
/// let mut query = Query::parse("apikey=k%201&page=2&page=3");
/// assert_eq!(query.get("apikey"), Some("k 1"));
/// assert_eq!(query.get_all("page").collect::<Vec<_>>(), ["2", "3"]);
///
/// query.remove("apikey");
/// query.set("page", "1");
/// query.append("q", "a&b");
/// assert_eq!(query.to_string(), "page=1&q=a%26b");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<Pair>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pair {
    /// A parameter; `raw` is its text as the client sent it, dropped once
    /// the plugin changes it (it is then written encoded).
    Param {
        key: String,
        value: String,
        raw: Option<String>,
    },
    /// A pair Go's `ParseQuery` refuses: not a parameter, written back as is.
    Refused(String),
}

/// Why a pair of a query string is not a parameter, as Go's `ParseQuery`
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The pair has a `;`: Go (since 1.17) no longer splits on it.
    Semicolon {
        /// The pair, as the client sent it.
        pair: String,
    },
    /// A `%` not followed by two hex digits.
    BadEscape {
        /// The escape as Go quotes it: `%` and up to two bytes after it.
        escape: String,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Go's own texts.
            QueryError::Semicolon { .. } => f.write_str("invalid semicolon separator in query"),
            QueryError::BadEscape { escape } => write!(f, "invalid URL escape {escape:?}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl Query {
    /// Parses a query string (without the `?`) as Go's `URL.Query()` does:
    /// pairs split on `&`, key and value on the first `=`, `+` is a space,
    /// `%XX` a byte; empty pairs are skipped, and a pair with a `;` or a bad
    /// escape is no parameter (see [`parse_strict`](Self::parse_strict) to be
    /// told). Decoded bytes that are not UTF-8 become U+FFFD.
    pub fn parse(query: &str) -> Query {
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            pairs.push(match parse_pair(pair) {
                Ok((key, value)) => Pair::Param {
                    key,
                    value,
                    raw: Some(pair.to_string()),
                },
                Err(_) => Pair::Refused(pair.to_string()),
            });
        }
        Query { pairs }
    }

    /// [`parse`](Self::parse), but the first pair Go's `ParseQuery` would
    /// report is an error.
    ///
    /// ```
    /// use gateway_plugin::query::{Query, QueryError};
    /// let err = Query::parse_strict("a=1;b=2").unwrap_err();
    /// assert_eq!(err.to_string(), "invalid semicolon separator in query");
    /// assert!(matches!(Query::parse_strict("a=%zz"), Err(QueryError::BadEscape { .. })));
    /// ```
    pub fn parse_strict(query: &str) -> Result<Query, QueryError> {
        if let Some(err) = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .find_map(|pair| parse_pair(pair).err())
        {
            return Err(err);
        }
        Ok(Query::parse(query))
    }

    /// The query of a path (what follows the first `?`, up to a `#`).
    ///
    /// ```
    /// use gateway_plugin::query::Query;
    /// assert_eq!(Query::of_path("/a?b=1#top").get("b"), Some("1"));
    /// ```
    pub fn of_path(path: &str) -> Query {
        Query::parse(split_path(path).1)
    }

    /// The first value of `key` (Go's `Values.Get`, which says `""` where
    /// this says `None`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every value of `key`, in order (Go's `Values[key]`).
    pub fn get_all<'a, 'k>(&'a self, key: &'k str) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
        self.iter().filter(move |(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether `key` has a value (Go's `Values.Has`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The parameters (decoded), in the client's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().filter_map(|pair| match pair {
            Pair::Param { key, value, .. } => Some((key.as_str(), value.as_str())),
            Pair::Refused(_) => None,
        })
    }

    /// How many parameters there are (refused pairs not counted).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets `key` to one value (Go's `Values.Set`): its first occurrence
    /// takes the value in place, the others go; a new key is appended.
    pub fn set(&mut self, key: &str, value: &str) {
        let mut seen = false;
        self.pairs.retain_mut(|pair| match pair {
            Pair::Param { key: k, .. } if k == key && seen => false,
            Pair::Param {
                key: k,
                value: v,
                raw,
                ..
            } if k == key => {
                seen = true;
                *v = value.to_string();
                *raw = None;
                true
            }
            _ => true,
        });
        if !seen {
            self.append(key, value);
        }
    }

    /// Adds a value of `key` after the others (Go's `Values.Add`).
    pub fn append(&mut self, key: &str, value: &str) {
        self.pairs.push(Pair::Param {
            key: key.to_string(),
            value: value.to_string(),
            raw: None,
        });
    }

    /// Removes every value of `key` (Go's `Values.Del`).
    pub fn remove(&mut self, key: &str) {
        self.pairs
            .retain(|pair| !matches!(pair, Pair::Param { key: k, .. } if k == key));
    }
}

/// The query string again (without `?`): untouched pairs as the client
/// sent them, changed and new ones encoded as Go's `QueryEscape` does.
/// Go's `Values.Encode` also sorts by key; this keeps the client's order.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            match pair {
                Pair::Param { raw: Some(raw), .. } | Pair::Refused(raw) => f.write_str(raw)?,
                Pair::Param {
                    key,
                    value,
                    raw: None,
                } => write!(f, "{}={}", escape(key), escape(value))?,
            }
        }
        Ok(())
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Query {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(pairs: I) -> Query {
        let mut query = Query::default();
        for (key, value) in pairs {
            query.append(key, value);
        }
        query
    }
}

/// A path's part before the `?` and its query (`""` if none); a fragment
/// is dropped, as Go's `url.Parse` drops it from `RawQuery`.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    let path = path.split('#').next().unwrap_or_default();
    path.split_once('?').unwrap_or((path, ""))
}

fn parse_pair(pair: &str) -> Result<(String, String), QueryError> {
    if pair.contains(';') {
        return Err(QueryError::Semicolon {
            pair: pair.to_string(),
        });
    }
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    Ok((unescape(key)?, unescape(value)?))
}

/// Decodes a query component as Go's `url.QueryUnescape`: `+` is a space,
/// `%XX` a byte (bytes that are not UTF-8 become U+FFFD).
///
/// ```
/// use gateway_plugin::query::unescape;
/// assert_eq!(unescape("a+b%21").unwrap(), "a b!");
/// assert!(unescape("100%").is_err());
/// ```
pub fn unescape(text: &str) -> Result<String, QueryError> {
    if !text.contains(['%', '+']) {
        return Ok(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
                let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                    // Go quotes the `%` and at most the two bytes after it.
                    let end = (i + 3).min(bytes.len());
                    let escape = String::from_utf8_lossy(&bytes[i..end]).into_owned();
                    return Err(QueryError::BadEscape { escape });
                };
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Encodes a query component as Go's `url.QueryEscape`: letters, digits and
/// `-_.~` stay, a space is `+`, every other byte `%XX` (upper-case hex).
///
/// ```
/// use gateway_plugin::query::escape;
/// assert_eq!(escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
/// ```
pub fn escape(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 15)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `TestParseQuery` cases (net/url): the parameters, and whether
    /// `ParseQuery` reports an error.
    #[test]
    fn parses_as_go_parse_query() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case] = &[
            ("a=1", &[("a", "1")], false),
            ("a=1&b=2", &[("a", "1"), ("b", "2")], false),
            (
                "a=1&a=2&a=banana",
                &[("a", "1"), ("a", "2"), ("a", "banana")],
                false,
            ),
            (
                "ascii=%3Ckey%3A+0x90%3E",
                &[("ascii", "<key: 0x90>")],
                false,
            ),
            ("a=1;b=2", &[], true),
            ("a;b=1", &[], true),
            ("a=%3B", &[("a", ";")], false),
            ("a%3Bb=1", &[("a;b", "1")], false),
            ("a=1&a=2;a=banana", &[("a", "1")], true),
            ("a;b&c=1", &[("c", "1")], true),
            ("a=1&b=2;a=3&c=4", &[("a", "1"), ("c", "4")], true),
            ("a=1&b=2;c=3", &[("a", "1")], true),
            (";", &[], true),
            ("a=1;", &[], true),
            ("a=1&;", &[("a", "1")], true),
            (";a=1&b=2", &[("b", "2")], true),
            ("a=1&b=2;", &[("a", "1")], true),
            // And escapes, empty pairs and bare keys.
            ("a=%zz&b=1", &[("b", "1")], true),
            ("a=%4&b=1", &[("b", "1")], true),
            ("&&a&=x&b=", &[("a", ""), ("", "x"), ("b", "")], false),
            ("k=%E4%BD%A0+%ff", &[("k", "你 \u{fffd}")], false),
        ];
        for &(raw, want, err) in cases {
            let query = Query::parse(raw);
            assert_eq!(query.iter().collect::<Vec<_>>(), want, "{raw}");
            assert_eq!(Query::parse_strict(raw).is_err(), err, "{raw}");
            // Parsed and written back untouched: the same text, minus empty pairs.
            let kept: Vec<_> = raw.split('&').filter(|p| !p.is_empty()).collect();
            assert_eq!(query.to_string(), kept.join("&"), "{raw}");
        }
    }

    /// Go's `TestQueryUnescape` / `TestQueryEscape` cases.
    #[test]
    fn escapes_as_go() {
        for (text, want) in [
            ("", Some("")),
            ("abc", Some("abc")),
            ("1%41", Some("1A")),
            ("1%41%42%43", Some("1ABC")),
            ("%4a", Some("J")),
            ("%6F", Some("o")),
            ("%", None),
            ("%a", None),
            ("%1", None),
            ("123%45%6", None),
            ("%zzzzz", None),
            ("a+b", Some("a b")),
            ("a%20b", Some("a b")),
        ] {
            assert_eq!(unescape(text).ok().as_deref(), want, "{text:?}");
        }
        assert_eq!(
            unescape("%zzzzz").unwrap_err().to_string(),
            r#"invalid URL escape "%zz""#
        );
        assert_eq!(
            unescape("12%4").unwrap_err().to_string(),
            r#"invalid URL escape "%4""#
        );
        for (text, want) in [
            ("", ""),
            ("abc", "abc"),
            ("one two", "one+two"),
            ("10%", "10%25"),
            (
                " ?&=#+%!<>#\"{}|\\^[]`☺\t:/@$'()*,;",
                "+%3F%26%3D%23%2B%25%21%3C%3E%23%22%7B%7D%7C%5C%5E%5B%5D%60%E2%98%BA%09%3A%2F%40%24%27%28%29%2A%2C%3B",
            ),
        ] {
            assert_eq!(escape(text), want, "{text:?}");
            assert_eq!(unescape(want).unwrap(), text);
        }
    }

    #[test]
    fn changes_touch_only_the_changed_pairs() {
        let mut query = Query::parse("z=%7e&apikey=1&bad=%zz&apikey=2&a;b");
        query.set("apikey", "new value");
        assert_eq!(query.to_string(), "z=%7e&apikey=new+value&bad=%zz&a;b");
        query.remove("apikey");
        query.append("x", "1");
        query.append("x", "2");
        assert_eq!(query.to_string(), "z=%7e&bad=%zz&a;b&x=1&x=2");
        query.set("x", "3");
        assert_eq!(query.to_string(), "z=%7e&bad=%zz&a;b&x=3");
        assert_eq!(query.len(), 2);
        assert!(query.contains_key("z") && !query.contains_key("bad"));
        query.remove("z");
        query.remove("x");
        assert!(query.is_empty());
        assert_eq!(query.to_string(), "bad=%zz&a;b", "refused pairs are kept");
        let built: Query = [("a b", "c&d")].into_iter().collect();
        assert_eq!(built.to_string(), "a+b=c%26d");
    }

    #[test]
    fn splits_paths_as_go_url_parse() {
        assert_eq!(split_path("/a?b=1#f"), ("/a", "b=1"));
        assert_eq!(split_path("/a#f?b=1"), ("/a", ""));
        assert_eq!(split_path("/a?b=1?c"), ("/a", "b=1?c"));
        assert_eq!(split_path("/a"), ("/a", ""));
        assert_eq!(Query::of_path("/?apikey=k").get("apikey"), Some("k"));
    }
}
