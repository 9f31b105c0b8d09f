//! gjson-style reading of a configuration, for `#[parse_config]` functions
//! ported from Higress's Go plugins.
//!
//! Go plugins read their configuration with gjson, whose accessors are
//! lenient on purpose: a missing key reads as a zero value, `Int()` of the
//! string `"403"` is 403, `Bool()` of `"true"` is true, `Get("a.b.0")` walks
//! objects and arrays. [`Gjson::gjson`] gives a [`Json`] with the same
//! conversions, so a port reads like the original:
//!
//! ```
//! use gateway_plugin::prelude::*;
//!
//! let config = serde_json::json!({"deny": {"code": "403", "paths": ["/admin"]}, "debug": "true"});
//! assert_eq!(config.gjson("deny.code").int(), 403);              // gjson: Get("deny.code").Int()
//! assert_eq!(config.gjson("deny.paths.0").str(), "/admin");      // Get("deny.paths.0").String()
//! assert!(config.gjson("debug").bool());                         // Get("debug").Bool()
//! assert!(!config.gjson("missing").exists());                    // Get("missing").Exists()
//! assert_eq!(config.gjson("missing").int(), 0);
//! for path in config.gjson("deny.paths").array() {               // Get("deny.paths").Array()
//!     assert!(path.str().starts_with('/'));
//! }
//! ```

use serde_json::Value;

/// A value found (or not) by a gjson path: Go's `gjson.Result`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Json<'a>(Option<&'a Value>);

/// `value.gjson("a.b.0")`: gjson's `Get` on a `serde_json::Value`.
pub trait Gjson {
    /// The value at a dotted path: object keys, and array indexes as numbers
    /// (`items.0.name`); `\.` is a literal dot in a key.
    fn gjson(&self, path: &str) -> Json<'_>;
}

impl Gjson for Value {
    fn gjson(&self, path: &str) -> Json<'_> {
        Json(Some(self)).get(path)
    }
}

/// Splits a gjson path at unescaped dots.
fn segments(path: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    parts.last_mut().expect("never empty").push(next);
                }
            }
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("never empty").push(c),
        }
    }
    parts
}

impl<'a> Json<'a> {
    /// The value at a path below this one (see [`Gjson::gjson`]).
    pub fn get(self, path: &str) -> Json<'a> {
        if path.is_empty() {
            return self;
        }
        let mut at = self.0;
        for key in segments(path) {
            at = match at {
                Some(Value::Object(map)) => map.get(&key),
                Some(Value::Array(items)) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
        }
        Json(at)
    }

    /// Whether the path leads to a value (a JSON `null` exists).
    pub fn exists(self) -> bool {
        self.0.is_some()
    }

    /// The value, if any.
    pub fn value(self) -> Option<&'a Value> {
        self.0
    }

    /// gjson's `Int()`: numbers truncated, numeric strings parsed, `true` is
    /// 1; anything else 0.
    pub fn int(self) -> i64 {
        match self.0 {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64))
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(0),
            Some(Value::String(s)) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
                    .unwrap_or(0)
            }
            Some(Value::Bool(true)) => 1,
            _ => 0,
        }
    }

    /// gjson's `Uint()`: as [`int`](Self::int), negative values are 0.
    pub fn uint(self) -> u64 {
        match self.0 {
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
                s.trim().parse::<u64>().unwrap_or(0)
            }
            _ => self.int().max(0) as u64,
        }
    }

    /// Go's `int32(r.Int())`, as ports write it: the low 32 bits of
    /// [`int`](Self::int) (so 2^31 is -2^31). Check the range first where a
    /// wrapped value would be wrong.
    pub fn int32(self) -> i32 {
        self.int() as i32
    }

    /// Go's `uint32(r.Uint())`: the low 32 bits of [`uint`](Self::uint)
    /// (so 2^32 is 0, and a negative value, which `uint` makes 0, is 0).
    ///
    /// ```
    /// use gateway_plugin::Gjson;
    /// let json = serde_json::json!({"port": 8080, "big": 4294967297u64, "text": "7"});
    /// assert_eq!(json.gjson("port").uint32(), 8080);
    /// assert_eq!(json.gjson("big").uint32(), 1);
    /// assert_eq!(json.gjson("text").uint32(), 7);
    /// assert_eq!(json.gjson("missing").int32(), 0);
    /// ```
    pub fn uint32(self) -> u32 {
        self.uint() as u32
    }

    /// gjson's `Float()`: numbers, numeric strings, `true` is 1; else 0.
    pub fn float(self) -> f64 {
        match self.0 {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
            Some(Value::Bool(true)) => 1.0,
            _ => 0.0,
        }
    }

    /// gjson's `Bool()`: `true`, the strings Go's `strconv.ParseBool` takes
    /// as true (`1`, `t`, `T`, `TRUE`, `true`, `True`), non-zero numbers.
    pub fn bool(self) -> bool {
        match self.0 {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => {
                matches!(s.as_str(), "1" | "t" | "T" | "TRUE" | "true" | "True")
            }
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            _ => false,
        }
    }

    /// gjson's `String()`: a string as is, numbers and booleans as text,
    /// objects and arrays as their JSON, nothing (or `null`) as `""`.
    pub fn str(self) -> String {
        match self.0 {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// gjson's `Array()`: an array's items; nothing (or `null`) is empty; any
    /// other value is a list of itself.
    pub fn array(self) -> Vec<Json<'a>> {
        match self.0 {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(|v| Json(Some(v))).collect(),
            Some(other) => vec![Json(Some(other))],
        }
    }

    /// An object's entries (gjson's `Map()`); empty for anything else.
    pub fn map(self) -> Vec<(&'a str, Json<'a>)> {
        match self.0 {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.as_str(), Json(Some(v))))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let v = json!({"a": {"b": [10, {"c": "x"}]}, "k.dot": 1});
        assert_eq!(v.gjson("a.b.0").int(), 10);
        assert_eq!(v.gjson("a.b.1.c").str(), "x");
        assert_eq!(v.gjson(r"k\.dot").int(), 1);
        assert!(!v.gjson("a.b.5").exists());
        assert!(!v.gjson("a.x.y").exists());
        assert!(json!({"n": null}).gjson("n").exists());
    }

    #[test]
    fn conversions_are_gos() {
        let v = json!({
            "s": "403", "f": "3.9", "neg": -5, "big": 1e20, "t": "true", "one": "1",
            "no": "yes", "num": 2.5, "zero": 0, "obj": {"a": 1}, "arr": [1, "2"],
        });
        assert_eq!(v.gjson("s").int(), 403);
        assert_eq!(v.gjson("f").int(), 3);
        assert_eq!(v.gjson("num").int(), 2);
        assert_eq!(v.gjson("neg").uint(), 0);
        assert_eq!(v.gjson("s").uint(), 403);
        assert_eq!(v.gjson("f").float(), 3.9);
        assert!(v.gjson("t").bool());
        assert!(v.gjson("one").bool());
        assert!(!v.gjson("no").bool());
        assert!(v.gjson("num").bool());
        assert!(!v.gjson("zero").bool());
        assert_eq!(v.gjson("num").str(), "2.5");
        assert_eq!(v.gjson("obj").str(), r#"{"a":1}"#);
        assert_eq!(v.gjson("missing").str(), "");
        let items: Vec<String> = v.gjson("arr").array().iter().map(|j| j.str()).collect();
        assert_eq!(items, ["1", "2"]);
        assert_eq!(v.gjson("s").array().len(), 1);
        assert!(v.gjson("missing").array().is_empty());
        assert_eq!(v.gjson("obj").map()[0].0, "a");
        assert_eq!(v.gjson("big").int(), i64::MAX);
    }
}
