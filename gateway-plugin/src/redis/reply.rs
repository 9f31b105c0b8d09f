//! What a command's RESP reply becomes: the command's type, or
//! [`RedisError::UnexpectedReply`] showing (a bounded part of) the reply.

use super::error::RedisError;
use crate::resp::RespValue;

/// The most of an unexpected reply an error (and its log line) shows.
const SHOWN_REPLY_BYTES: usize = 128;

fn unexpected<T>(expected: &'static str, got: RespValue) -> Result<T, RedisError> {
    // A reply can be megabytes: show its start and its size, never all.
    let mut text = got.to_string();
    if text.len() > SHOWN_REPLY_BYTES {
        let mut end = SHOWN_REPLY_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let total = text.len();
        text.truncate(end);
        text.push_str(&format!("... ({total} bytes)"));
    }
    Err(RedisError::UnexpectedReply {
        expected,
        got: text,
    })
}

pub(super) fn optional_integer(value: RespValue) -> Result<Option<i64>, RedisError> {
    match value {
        RespValue::Nil => Ok(None),
        RespValue::Integer(i) => Ok(Some(i)),
        other => unexpected("an integer or nil", other),
    }
}

pub(super) fn optional_strings(value: RespValue) -> Result<Vec<Option<String>>, RedisError> {
    match value {
        RespValue::Array(items) => items
            .into_iter()
            .map(|item| match item {
                RespValue::Nil => Ok(None),
                item => match item.as_string() {
                    Some(s) => Ok(Some(s)),
                    None => unexpected("an array of strings or nils", item),
                },
            })
            .collect(),
        other => unexpected("an array", other),
    }
}

pub(super) fn ok(value: RespValue) -> Result<(), RedisError> {
    match value {
        RespValue::Simple(_) => Ok(()),
        other => unexpected("OK", other),
    }
}

pub(super) fn integer(value: RespValue) -> Result<i64, RedisError> {
    match value {
        RespValue::Integer(i) => Ok(i),
        other => unexpected("an integer", other),
    }
}

pub(super) fn flag(value: RespValue) -> Result<bool, RedisError> {
    integer(value).map(|i| i != 0)
}

pub(super) fn set_if(value: RespValue) -> Result<bool, RedisError> {
    match value {
        RespValue::Simple(_) => Ok(true),
        RespValue::Nil => Ok(false),
        other => unexpected("OK or nil", other),
    }
}

pub(super) fn optional_string(value: RespValue) -> Result<Option<String>, RedisError> {
    match value {
        RespValue::Nil => Ok(None),
        RespValue::Bulk(_) | RespValue::Simple(_) => Ok(value.as_string()),
        other => unexpected("a string or nil", other),
    }
}

pub(super) fn strings(value: RespValue) -> Result<Vec<String>, RedisError> {
    match value {
        RespValue::Array(items) => items
            .into_iter()
            .map(|item| match item.as_string() {
                Some(s) => Ok(s),
                None => unexpected("an array of strings", item),
            })
            .collect(),
        RespValue::Nil => Ok(Vec::new()),
        other => unexpected("an array", other),
    }
}

pub(super) fn pairs(value: RespValue) -> Result<Vec<(String, String)>, RedisError> {
    let flat = strings(value)?;
    if flat.len() % 2 != 0 {
        return Err(RedisError::UnexpectedReply {
            expected: "field-value pairs",
            got: format!("{} strings", flat.len()),
        });
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(field), Some(value)) = (items.next(), items.next()) {
        out.push((field, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_unexpected_reply_is_shown_bounded() {
        let Err(RedisError::UnexpectedReply { got, .. }) =
            integer(RespValue::Bulk(vec![b'x'; 1 << 20]))
        else {
            panic!("an unexpected-reply error");
        };
        assert!(got.len() < 200, "{} bytes", got.len());
        assert!(got.ends_with(" bytes)"), "{got}");
        assert_eq!(
            optional_strings(RespValue::Array(vec![
                RespValue::Nil,
                RespValue::Bulk(b"v".to_vec())
            ])),
            Ok(vec![None, Some("v".into())])
        );
        assert_eq!(optional_integer(RespValue::Nil), Ok(None));
    }

    #[test]
    fn replies_convert_to_the_commands_types() {
        assert_eq!(integer(RespValue::Integer(3)), Ok(3));
        assert!(matches!(
            integer(RespValue::Nil),
            Err(RedisError::UnexpectedReply { .. })
        ));
        assert_eq!(optional_string(RespValue::Nil), Ok(None));
        assert_eq!(
            optional_string(RespValue::Bulk(b"v".to_vec())),
            Ok(Some("v".into()))
        );
        assert_eq!(flag(RespValue::Integer(0)), Ok(false));
        assert_eq!(set_if(RespValue::Simple("OK".into())), Ok(true));
        assert_eq!(set_if(RespValue::Nil), Ok(false));
        assert_eq!(
            pairs(RespValue::Array(vec![
                RespValue::Bulk(b"f".to_vec()),
                RespValue::Bulk(b"v".to_vec())
            ])),
            Ok(vec![("f".into(), "v".into())])
        );
        assert!(pairs(RespValue::Array(vec![RespValue::Bulk(b"f".to_vec())])).is_err());
    }
}
