//! A tool: what `#[mcp_tool]` registers ([`Tool`]), what the tool reads
//! ([`ToolCall`]) and what it answers ([`ToolResult`], or anything
//! [`IntoToolResult`]).

use crate::context::HttpContext;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

/// The call of one tool: the tool's name, its raw arguments, and the HTTP
/// request that carried it (its headers, e.g. a credential), with the
/// session's protocol version.
///
/// ```no_run
/// # use gateway_plugin::mcp::ToolCall;
/// fn user(call: &ToolCall) -> Option<String> {
///     call.request_header("x-user")
/// }
/// ```
pub struct ToolCall {
    ctx: HttpContext,
    name: String,
    arguments: Value,
    protocol_version: &'static str,
}

impl std::fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .field("protocol_version", &self.protocol_version)
            .finish_non_exhaustive()
    }
}

impl ToolCall {
    pub(crate) fn new(
        ctx: HttpContext,
        name: String,
        arguments: Value,
        protocol_version: &'static str,
    ) -> Self {
        ToolCall {
            ctx,
            name,
            arguments,
            protocol_version,
        }
    }

    pub(crate) fn into_context(self) -> HttpContext {
        self.ctx
    }

    /// The tool's name, as the client called it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments as the client sent them (the tool's typed argument is
    /// these, deserialized).
    pub fn arguments(&self) -> &Value {
        &self.arguments
    }

    /// The protocol version of the session.
    pub fn protocol_version(&self) -> &'static str {
        self.protocol_version
    }

    /// A header of the HTTP request that carried the call.
    pub fn request_header(&self, name: &str) -> Option<String> {
        self.ctx.request_header(name)
    }

    /// The HTTP request's context: every header, properties, user
    /// attributes, metrics as in any handler.
    pub fn ctx(&mut self) -> &mut HttpContext {
        &mut self.ctx
    }
}

/// One item of a tool result's `content`.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// `{"type": "text", "text": ..}`
    Text(String),
    /// `{"type": "image", "data": base64, "mimeType": ..}`
    Image {
        /// The image's bytes (sent base64-encoded).
        data: Vec<u8>,
        /// e.g. `image/png`.
        mime_type: String,
    },
    /// `{"type": "audio", "data": base64, "mimeType": ..}`
    Audio {
        /// The audio's bytes (sent base64-encoded).
        data: Vec<u8>,
        /// e.g. `audio/wav`.
        mime_type: String,
    },
    /// `{"type": "resource_link", "uri": .., "name": ..}` (2025-06-18).
    ResourceLink {
        /// The resource's URI.
        uri: String,
        /// Its name.
        name: String,
        /// Its MIME type, if known.
        mime_type: Option<String>,
    },
}

impl Content {
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        let base64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
        match self {
            Content::Text(text) => {
                object.insert("type".into(), "text".into());
                object.insert("text".into(), text.as_str().into());
            }
            Content::Image { data, mime_type } | Content::Audio { data, mime_type } => {
                let kind = if matches!(self, Content::Image { .. }) {
                    "image"
                } else {
                    "audio"
                };
                object.insert("type".into(), kind.into());
                object.insert("data".into(), base64(data).into());
                object.insert("mimeType".into(), mime_type.as_str().into());
            }
            Content::ResourceLink {
                uri,
                name,
                mime_type,
            } => {
                object.insert("type".into(), "resource_link".into());
                object.insert("uri".into(), uri.as_str().into());
                object.insert("name".into(), name.as_str().into());
                if let Some(mime_type) = mime_type {
                    object.insert("mimeType".into(), mime_type.as_str().into());
                }
            }
        }
        Value::Object(object)
    }
}

/// What a tool answers: content, optionally structured content, and
/// whether it is a tool error (`isError`, which the model sees; a protocol
/// error is something else).
///
/// ```
/// use gateway_plugin::mcp::ToolResult;
/// let result = ToolResult::text("22°C").with_text("sunny");
/// assert!(!result.is_error());
/// assert!(ToolResult::error("the weather service is down").is_error());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolResult {
    content: Vec<Content>,
    structured: Option<Value>,
    is_error: bool,
}

impl ToolResult {
    /// A result of one text.
    pub fn text(text: impl Into<String>) -> Self {
        ToolResult {
            content: vec![Content::Text(text.into())],
            ..Default::default()
        }
    }

    /// A result of one text holding `value` as JSON.
    pub fn json(value: &impl serde::Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => ToolResult::text(text),
            Err(err) => ToolResult::error(format!("cannot encode the result: {err}")),
        }
    }

    /// A result of one text holding these bytes (e.g. a JSON answer of a
    /// REST backend), lossily decoded as UTF-8.
    pub fn json_text(bytes: &[u8]) -> Self {
        ToolResult::text(String::from_utf8_lossy(bytes))
    }

    /// Structured content (2025-06-18's `structuredContent`), with its JSON
    /// text as the content too, as the spec asks for older clients.
    pub fn structured(value: Value) -> Self {
        let mut result = ToolResult::text(value.to_string());
        result.structured = Some(value);
        result
    }

    /// This result with structured content (`structuredContent`) beside
    /// its content, e.g. a REST answer beside the text made of it.
    pub fn with_structured(mut self, value: Value) -> Self {
        self.structured = Some(value);
        self
    }

    /// An image, sent base64-encoded.
    pub fn image(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        ToolResult::content(Content::Image {
            data: data.into(),
            mime_type: mime_type.into(),
        })
    }

    /// An audio clip, sent base64-encoded.
    pub fn audio(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        ToolResult::content(Content::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        })
    }

    /// A link to a resource.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        ToolResult::content(Content::ResourceLink {
            uri: uri.into(),
            name: name.into(),
            mime_type: None,
        })
    }

    /// A result of one content item.
    pub fn content(content: Content) -> Self {
        ToolResult {
            content: vec![content],
            ..Default::default()
        }
    }

    /// A tool error: `isError: true` with the message as its text.
    pub fn error(message: impl Into<String>) -> Self {
        ToolResult {
            is_error: true,
            ..ToolResult::text(message)
        }
    }

    /// This result with one more content item.
    pub fn with(mut self, content: Content) -> Self {
        self.content.push(content);
        self
    }

    /// This result with one more text.
    pub fn with_text(self, text: impl Into<String>) -> Self {
        self.with(Content::Text(text.into()))
    }

    /// Whether this is a tool error.
    pub fn is_error(&self) -> bool {
        self.is_error
    }

    /// The content items.
    pub fn contents(&self) -> &[Content] {
        &self.content
    }

    /// The result object of `tools/call` (structured content only where
    /// the session's version has it).
    pub(crate) fn to_json(&self, structured_content: bool) -> Value {
        let mut object = Map::with_capacity(3);
        object.insert(
            "content".into(),
            Value::Array(self.content.iter().map(Content::to_json).collect()),
        );
        if let (true, Some(structured)) = (structured_content, &self.structured) {
            object.insert("structuredContent".into(), structured.clone());
        }
        object.insert("isError".into(), self.is_error.into());
        Value::Object(object)
    }
}

/// Structured output of a tool: its type's JSON Schema becomes the tool's
/// `outputSchema`, its value the result's `structuredContent` (with its
/// JSON text as content).
///
/// ```
/// use gateway_plugin::mcp::Structured;
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Forecast { celsius: f64 }
/// let _ = Structured(Forecast { celsius: 21.5 });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Structured<T>(pub T);

/// What a tool may return: [`ToolResult`], `String`/`&str` (one text),
/// [`Structured<T>`], or `Result<T, E>` of any of these with `E: Display`
/// (an `Err` is a tool error with `E`'s message).
#[diagnostic::on_unimplemented(
    message = "an MCP tool cannot return `{Self}`",
    label = "expected `ToolResult`, `String`, `Structured<T>` or `Result<_, E: Display>` of these",
    note = "return `ToolResult::text(..)`, `ToolResult::json(&value)`, or `Err(message)` for a tool error"
)]
pub trait IntoToolResult {
    /// The result.
    fn into_tool_result(self) -> ToolResult;
    /// The `outputSchema` this return type declares, if any.
    fn output_schema() -> Option<Value> {
        None
    }
}

impl IntoToolResult for ToolResult {
    fn into_tool_result(self) -> ToolResult {
        self
    }
}
impl IntoToolResult for String {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::text(self)
    }
}
impl IntoToolResult for &str {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::text(self)
    }
}
impl<T: serde::Serialize + schemars::JsonSchema> IntoToolResult for Structured<T> {
    fn into_tool_result(self) -> ToolResult {
        match serde_json::to_value(&self.0) {
            Ok(value) => ToolResult::structured(value),
            Err(err) => ToolResult::error(format!("cannot encode the result: {err}")),
        }
    }
    fn output_schema() -> Option<Value> {
        Some(schema_of::<T>())
    }
}
impl<T: IntoToolResult, E: Display> IntoToolResult for Result<T, E> {
    fn into_tool_result(self) -> ToolResult {
        match self {
            Ok(ok) => ok.into_tool_result(),
            Err(err) => ToolResult::error(err.to_string()),
        }
    }
    fn output_schema() -> Option<Value> {
        T::output_schema()
    }
}

/// What a tool's argument type must be: `Deserialize` (the arguments are
/// it) and `JsonSchema` (its schema is the tool's `inputSchema`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the arguments of an MCP tool",
    label = "derive `Deserialize` and `JsonSchema` for it",
    note = "`#[derive(Deserialize, JsonSchema)]` (serde and schemars); a tool without arguments takes `NoArguments`"
)]
pub trait ToolArguments: Sized {
    /// The `inputSchema`.
    fn input_schema() -> Value;
    /// The arguments, from the call's JSON object.
    fn from_arguments(arguments: Value) -> Result<Self, String>;
}

impl<T: serde::de::DeserializeOwned + schemars::JsonSchema> ToolArguments for T {
    fn input_schema() -> Value {
        schema_of::<T>()
    }
    fn from_arguments(arguments: Value) -> Result<Self, String> {
        serde_path_to_error::deserialize(arguments).map_err(|err| {
            let path = err.path().to_string();
            if path == "." {
                format!("invalid arguments: {}", err.inner())
            } else {
                format!("invalid arguments: `{path}`: {}", err.inner())
            }
        })
    }
}

/// The arguments of a tool that takes none (schema: an object with no
/// properties; any object is accepted).
#[derive(Clone, Copy, Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct NoArguments {}

/// A type's JSON Schema as MCP clients read it: draft 2020-12, subschemas
/// inlined (no `$defs`, as Go's `InputSchema` builds them), no `$schema`.
pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Value::Object(object) = &mut value {
        // The type's doc comment is the tool's description already.
        object.remove("description");
        object.remove("title");
    }
    value
}

/// The future of a tool's call: its result, or the `-32602` message when
/// the arguments do not match.
pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<ToolResult, String>> + 'a>>;

/// A tool of the server whose config is `C`, as `#[mcp_tool]` registers
/// it.
pub struct Tool<C> {
    /// Its name (the function's, or `#[mcp_tool(name = "..")]`).
    pub name: &'static str,
    /// Its description: the function's doc comment.
    pub description: &'static str,
    /// Builds its `inputSchema` (once per VM).
    pub input_schema: fn() -> Value,
    /// Builds its `outputSchema`, if it declares one.
    pub output_schema: fn() -> Option<Value>,
    /// Calls it.
    pub call: for<'a> fn(&'a mut ToolCall, &'a C, Value) -> ToolFuture<'a>,
}

/// Implemented by `#[mcp_tool]` for the tool's (hidden) type, named as the
/// function, so `#[mcp_server(tools = [get_weather])]` finds it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP tool of `{C}`",
    label = "listed in `tools = [..]` of `{C}`'s `#[mcp_server]`",
    note = "a tool is a function with `#[mcp_tool]` whose second argument is `&{C}`"
)]
pub trait McpTool<C> {
    /// The tool.
    const TOOL: Tool<C>;
}

/// Whether two tool names are equal, at compile time (the duplicate check
/// `#[mcp_server]` generates).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct City {
        /// City name
        city: String,
        #[serde(default)]
        days: Option<u8>,
    }

    #[test]
    fn schemas_are_flat_objects_with_field_docs() {
        let schema = schema_of::<City>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["city"]["description"], "City name");
        assert_eq!(schema["required"], json!(["city"]));
        assert!(schema.get("$schema").is_none() && schema.get("$defs").is_none());
        assert_eq!(schema_of::<NoArguments>()["type"], "object");
    }

    #[test]
    fn argument_errors_name_the_field() {
        let arguments = City::from_arguments;
        let err = arguments(json!({"city": 3})).err().unwrap();
        assert!(
            err.contains("`city`") && err.contains("expected a string"),
            "{err}"
        );
        let err = arguments(json!({})).err().unwrap();
        assert!(err.contains("missing field `city`"), "{err}");
        let err = arguments(json!({"city": "x", "days": 999})).err().unwrap();
        assert!(err.contains("`days`"), "{err}");
        assert!(arguments(json!({"city": "x"})).is_ok());
    }

    #[test]
    fn results() {
        assert_eq!(
            Ok::<_, String>("hi").into_tool_result().to_json(true),
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false})
        );
        assert_eq!(
            Err::<String, _>("down").into_tool_result().to_json(true),
            json!({"content": [{"type": "text", "text": "down"}], "isError": true})
        );
        let image = ToolResult::image(b"\x89PNG".to_vec(), "image/png").to_json(true);
        assert_eq!(image["content"][0]["data"], "iVBORw==");
        let structured = ToolResult::structured(json!({"c": 1}));
        assert_eq!(
            structured.to_json(true)["structuredContent"],
            json!({"c": 1})
        );
        assert_eq!(structured.to_json(true)["content"][0]["text"], "{\"c\":1}");
        assert!(structured.to_json(false).get("structuredContent").is_none());
        assert!(same_name("a", "a") && !same_name("a", "ab") && !same_name("ab", "ac"));
    }
}
