//! The handler's signature, checked one part at a time, as axum-macros'
//! `debug_handler` does: the qualifiers, the argument count, each argument
//! by its role, the return type. Each problem is a `syn::Error` spanned at
//! its tokens. Which types the context and the return value are is left to
//! trait bounds spanned at them in the generated code, so aliases work.

use super::Phase;
use crate::errors::Errors;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Signature, Type};

/// A checked handler signature.
pub(super) struct Handler {
    /// The type behind the first argument's `&mut` (checked to be
    /// `HttpContext` by a trait bound spanned at it, so aliases work).
    pub(super) ctx_ty: Type,
    /// The return type, if any (checked by `into_action`/`into_chunk`).
    pub(super) ret_ty: Option<Type>,
    pub(super) config_ty: Type,
    pub(super) returns_action: bool,
    pub(super) is_async: bool,
}

/// The handler being checked and what it should look like, for the
/// messages.
struct Expected<'a> {
    sig: &'a Signature,
    phase: Phase,
    streaming: bool,
    /// The attribute's name, `on_request_headers`, ...
    attr: &'static str,
    /// The signature the phase wants, from the parenthesis on.
    signature: &'static str,
}

impl Expected<'_> {
    /// The handler as it should be written: `fn name(ctx: ..) -> Action`
    /// (`async fn` if it is one).
    fn written(&self) -> String {
        let shape = if self.sig.asyncness.is_some() {
            "async fn"
        } else {
            "fn"
        };
        format!("{shape} {}{}", self.sig.ident, self.signature)
    }
}

/// What an argument is for, by its position.
#[derive(Clone, Copy)]
enum Role {
    Ctx,
    Config,
    /// The whole body, or one chunk of it when streaming.
    Body,
    EndOfStream,
}

impl Role {
    const IN_ORDER: [Role; 4] = [Role::Ctx, Role::Config, Role::Body, Role::EndOfStream];

    /// The argument's name, as messages call it.
    fn name(self, streaming: bool) -> &'static str {
        match self {
            Role::Ctx => "ctx",
            Role::Config => "config",
            Role::Body if streaming => "chunk",
            Role::Body => "body",
            Role::EndOfStream => "end_of_stream",
        }
    }
}

/// Checks `func` as the handler of `phase`: every problem goes to
/// `errors`; the pieces code generation needs come back if the context and
/// config types could be read (if not, an error says why).
pub(super) fn check_signature(
    phase: Phase,
    streaming: bool,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<Handler> {
    let sig = &func.sig;
    let expected = Expected {
        sig,
        phase,
        streaming,
        attr: phase.attr(),
        signature: phase.expected_signature(streaming),
    };
    let generic = check_qualifiers(&expected, errors);
    let arity = phase.arity(streaming);
    check_arity(&expected, arity, errors);

    let mut ctx_ty = None;
    let mut config_ty = None;
    for (input, role) in sig.inputs.iter().zip(Role::IN_ORDER).take(arity) {
        let ty = match input {
            FnArg::Receiver(receiver) => {
                errors.at(
                    receiver,
                    format!(
                        "a `#[{}]` handler is a free function, it cannot take `self`",
                        expected.attr
                    ),
                );
                continue;
            }
            FnArg::Typed(pat) => &*pat.ty,
        };
        // (Lifetimes declared on a generic handler are reported once, by
        // `check_qualifiers`.)
        if !generic {
            check_no_lifetime(ty, role, streaming, errors);
        }
        match role {
            Role::Ctx => ctx_ty = check_ctx(ty, errors),
            Role::Config => config_ty = check_config(ty, errors),
            Role::Body => check_body(ty, streaming, errors),
            Role::EndOfStream => check_end_of_stream(ty, errors),
        }
    }
    let returns_action = check_return(&expected, errors);

    Some(Handler {
        ctx_ty: ctx_ty?,
        ret_ty: match &sig.output {
            ReturnType::Type(_, ty) => Some((**ty).clone()),
            ReturnType::Default => None,
        },
        config_ty: config_ty?,
        returns_action,
        is_async: sig.asyncness.is_some(),
    })
}

/// What a handler cannot be: generic, `const`, `unsafe`, of another ABI,
/// variadic. Returns whether it is generic.
fn check_qualifiers(expected: &Expected, errors: &mut Errors) -> bool {
    let Expected { sig, attr, .. } = *expected;
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if generic {
        errors.at(&sig.generics, generic_message(expected));
    }
    if let Some(constness) = sig.constness {
        errors.at(
            constness,
            format!("a `#[{attr}]` handler cannot be `const`"),
        );
    }
    if let Some(unsafety) = sig.unsafety {
        errors.at(
            unsafety,
            format!("a `#[{attr}]` handler cannot be `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, format!("a `#[{attr}]` handler cannot have an ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(
            variadic,
            format!("a `#[{attr}]` handler cannot be variadic"),
        );
    }
    generic
}

/// Why a handler cannot be generic: lifetimes are not needed (the
/// framework keeps what it lends alive), and there is one config type.
fn generic_message(expected: &Expected) -> String {
    let Expected {
        sig,
        phase,
        streaming,
        attr,
        ..
    } = *expected;
    if sig.generics.lifetimes().next().is_some() {
        format!(
            "a `#[{attr}]` handler cannot have lifetime parameters: it borrows only \
             `ctx`{}, which the framework keeps alive for as long as it runs",
            if streaming {
                ", `config` and `chunk`"
            } else if phase.has_body() {
                ", `config` and `body`"
            } else {
                " and `config`"
            }
        )
    } else {
        format!(
            "a `#[{attr}]` handler cannot be generic: it is called with the plugin's one config type"
        )
    }
}

/// Too few arguments (one error at the list), too many (one at each extra).
fn check_arity(expected: &Expected, arity: usize, errors: &mut Errors) {
    let Expected { sig, attr, .. } = *expected;
    let count = sig.inputs.len();
    if count < arity {
        let span = if count == 0 {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        errors.push(syn::Error::new(
            span,
            format!(
                "this `#[{attr}]` handler takes {count} argument{}, expected {arity}: `{}`",
                if count == 1 { "" } else { "s" },
                expected.written()
            ),
        ));
    }
    for extra in sig.inputs.iter().skip(arity) {
        errors.at(
            extra,
            format!(
                "unexpected argument: a `#[{attr}]` handler is `{}`",
                expected.written()
            ),
        );
    }
}

/// A named lifetime on a reference argument is refused: the argument is
/// lent for the call only.
fn check_no_lifetime(ty: &Type, role: Role, streaming: bool, errors: &mut Errors) {
    let Type::Reference(r) = ty else { return };
    if let Some(lifetime) = r.lifetime.as_ref().filter(|l| l.ident != "_") {
        let name = role.name(streaming);
        errors.at(
            lifetime,
            format!(
                "remove `{lifetime}`: `{name}` is lent to the handler for as long as it runs, no longer"
            ),
        );
    }
}

/// `&mut Ctx`: the type behind the reference. Which type it is, is checked
/// by a trait bound spanned at it (so `use gateway_plugin::HttpContext as
/// Ctx;` works).
fn check_ctx(ty: &Type, errors: &mut Errors) -> Option<Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Some((*r.elem).clone()),
        _ => {
            errors.at(ty, "expected `&mut HttpContext` as the first argument");
            None
        }
    }
}

/// `&Config`: the config type.
fn check_config(ty: &Type, errors: &mut Errors) -> Option<Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => return Some((*r.elem).clone()),
        Type::Reference(r) => errors.at(
            r.mutability,
            "the config is shared by every request: take it as `&YourConfig`, not `&mut`",
        ),
        _ => errors.at(
            ty,
            "expected `&YourConfig` as the second argument: a reference to the type marked `#[plugin]`",
        ),
    }
    None
}

/// `&[u8]`: the body, or the chunk.
fn check_body(ty: &Type, streaming: bool, errors: &mut Errors) {
    match ty {
        Type::Reference(r) if r.mutability.is_none() && is_u8_slice(&r.elem) => {}
        _ if streaming => errors.at(ty, "expected `&[u8]`: this chunk of the body, as bytes"),
        _ => errors.at(ty, "expected `&[u8]`: the whole body, as bytes"),
    }
}

/// `bool`: whether the chunk is the last.
fn check_end_of_stream(ty: &Type, errors: &mut Errors) {
    if last_segment(ty).as_deref() != Some("bool") {
        errors.at(
            ty,
            "expected `bool`: whether this chunk is the body's last (`end_of_stream`)",
        );
    }
}

/// Whether the handler's value becomes an `Action` (the headers and whole
/// body phases; `on_stream_done` may return nothing). A return type is
/// required where the phase needs one; which types are accepted is said by
/// `into_action`'s or `into_chunk`'s bound, spanned at it (an alias of
/// `Action` is accepted).
fn check_return(expected: &Expected, errors: &mut Errors) -> bool {
    let (sig, phase, attr) = (expected.sig, expected.phase, expected.attr);
    let streaming = expected.streaming;
    if let ReturnType::Type(..) = sig.output {
        return !streaming;
    }
    let message = if streaming {
        format!(
            "a `#[{attr}(streaming)]` handler returns the bytes to send on in place of the chunk: `{}` (or `-> Chunk`, e.g. `Chunk::Pass`)",
            expected.written()
        )
    } else if phase == Phase::StreamDone {
        return false;
    } else {
        format!(
            "a `#[{attr}]` handler must return `Action`: `{}`",
            expected.written()
        )
    };
    errors.push(syn::Error::new(sig.paren_token.span.close(), message));
    false
}

/// The last path segment's name of a type, if it is a plain path.
fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Paren(p) => last_segment(&p.elem),
        Type::Group(g) => last_segment(&g.elem),
        _ => None,
    }
}

fn is_u8_slice(ty: &Type) -> bool {
    match ty {
        Type::Slice(s) => last_segment(&s.elem).as_deref() == Some("u8"),
        Type::Paren(p) => is_u8_slice(&p.elem),
        _ => false,
    }
}
