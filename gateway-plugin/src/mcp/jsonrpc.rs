//! JSON-RPC 2.0 as MCP uses it: what an incoming message is (request,
//! notification, a client's response, or not a request at all), the spec's
//! error codes, and the response objects.

use serde_json::{Map, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters: an unknown tool, arguments that do not match
/// the tool's schema, an unknown cursor.
pub const INVALID_PARAMS: i64 = -32602;
/// An internal error.
pub const INTERNAL_ERROR: i64 = -32603;

/// One message of a POST body, classified.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// A request: it gets a response with the same id.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification: no response.
    Notification { method: String },
    /// A client's response (to a server request) or error: no response.
    Response,
    /// Not a JSON-RPC request: answered with `-32600` and the id when the
    /// id itself is usable, else `null`.
    Invalid { id: Value, reason: String },
}

/// Whether `id` is an id MCP allows: a string or an integer (not `null`,
/// not a fraction, not a bool, array or object).
fn usable_id(id: &Value) -> bool {
    match id {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

/// Classifies one message.
pub(crate) fn classify(message: Value) -> Incoming {
    let Value::Object(mut object) = message else {
        return invalid(Value::Null, "a message is a JSON object");
    };
    let id = object.remove("id");
    let reply_id = match &id {
        Some(id) if usable_id(id) => id.clone(),
        _ => Value::Null,
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(reply_id, "`jsonrpc` must be \"2.0\"");
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return invalid(reply_id, "`method` must be a string"),
        None if object.contains_key("result") || object.contains_key("error") => {
            return Incoming::Response
        }
        None => return invalid(reply_id, "a request has a `method`"),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(params @ Value::Object(_)) => params,
        Some(_) => return invalid(reply_id, "`params` must be an object"),
    };
    match id {
        None => Incoming::Notification { method },
        Some(id) if usable_id(&id) => Incoming::Request { id, method, params },
        Some(_) => invalid(Value::Null, "`id` must be a string or an integer"),
    }
}

fn invalid(id: Value, reason: &str) -> Incoming {
    Incoming::Invalid {
        id,
        reason: format!("invalid request: {reason}"),
    }
}

/// A success response.
pub(crate) fn result(id: Value, result: Value) -> Value {
    let mut object = Map::with_capacity(3);
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("id".into(), id);
    object.insert("result".into(), result);
    Value::Object(object)
}

/// An error response.
pub(crate) fn error(id: Value, code: i64, message: &str) -> Value {
    let mut error = Map::with_capacity(2);
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    let mut object = Map::with_capacity(3);
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("id".into(), id);
    object.insert("error".into(), Value::Object(error));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_notifications_and_responses() {
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})),
            Incoming::Request {
                id: json!(7),
                method: "ping".into(),
                params: json!({})
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Incoming::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": "a", "result": {}})),
            Incoming::Response
        );
    }

    #[test]
    fn ids_of_every_json_type() {
        for (id, echoed) in [
            (json!("x"), true),
            (json!(-3), true),
            (json!(u64::MAX), true),
            (json!(1.5), false),
            (json!(null), false),
            (json!(true), false),
            (json!([1]), false),
            (json!({"a": 1}), false),
        ] {
            let got = classify(json!({"jsonrpc": "2.0", "id": id.clone(), "method": "ping"}));
            if echoed {
                assert!(
                    matches!(got, Incoming::Request { id: ref i, .. } if *i == id),
                    "{id}"
                );
            } else {
                assert!(
                    matches!(
                        got,
                        Incoming::Invalid {
                            id: Value::Null,
                            ..
                        }
                    ),
                    "{id}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn not_requests() {
        for message in [
            json!(1),
            json!("ping"),
            json!({"id": 1, "method": "ping"}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": 3}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}),
        ] {
            assert!(
                matches!(classify(message.clone()), Incoming::Invalid { .. }),
                "{message}"
            );
        }
        // The id is echoed when it is usable.
        assert!(matches!(
            classify(json!({"jsonrpc": "1.0", "id": 4, "method": "ping"})),
            Incoming::Invalid { id, .. } if id == json!(4)
        ));
    }
}
