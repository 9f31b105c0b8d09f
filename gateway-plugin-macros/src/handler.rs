//! The phase attributes: `#[on_request_headers]`, `#[on_request_body]`,
//! `#[on_response_headers]`, `#[on_response_body]`, `#[on_stream_done]`.
//!
//! Each checks the handler's signature, then implements the phase's trait
//! (`gateway_plugin::__private::OnRequestHeaders`, ...) for the config type
//! named in the signature, pointing it at the function.

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    StreamDone,
}

impl Phase {
    fn attr(self) -> &'static str {
        match self {
            Phase::RequestHeaders => "on_request_headers",
            Phase::RequestBody => "on_request_body",
            Phase::ResponseHeaders => "on_response_headers",
            Phase::ResponseBody => "on_response_body",
            Phase::StreamDone => "on_stream_done",
        }
    }

    fn trait_name(self) -> syn::Ident {
        let name = match self {
            Phase::RequestHeaders => "OnRequestHeaders",
            Phase::RequestBody => "OnRequestBody",
            Phase::ResponseHeaders => "OnResponseHeaders",
            Phase::ResponseBody => "OnResponseBody",
            Phase::StreamDone => "OnStreamDone",
        };
        syn::Ident::new(name, Span::call_site())
    }

    fn has_body(self) -> bool {
        matches!(self, Phase::RequestBody | Phase::ResponseBody)
    }

    fn expected_signature(self) -> &'static str {
        match self {
            Phase::RequestBody | Phase::ResponseBody => {
                "(ctx: &mut HttpContext, config: &YourConfig, body: &[u8]) -> Action"
            }
            Phase::StreamDone => "(ctx: &mut HttpContext, config: &YourConfig)",
            _ => "(ctx: &mut HttpContext, config: &YourConfig) -> Action",
        }
    }
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

/// A checked handler signature.
struct Handler {
    config_ty: Type,
    returns_action: bool,
    is_async: bool,
}

fn check_signature(phase: Phase, func: &ItemFn, errors: &mut Errors) -> Option<Handler> {
    let sig = &func.sig;
    let attr = phase.attr();
    let expected = phase.expected_signature();

    let shape = if sig.asyncness.is_some() {
        "async fn"
    } else {
        "fn"
    };

    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if generic {
        let message = if sig.generics.lifetimes().next().is_some() {
            format!(
                "a `#[{attr}]` handler cannot have lifetime parameters: it borrows only \
                 `ctx`{}, which the framework keeps alive for as long as it runs",
                if phase.has_body() {
                    ", `config` and `body`"
                } else {
                    " and `config`"
                }
            )
        } else {
            format!(
                "a `#[{attr}]` handler cannot be generic: it is called with the plugin's one config type"
            )
        };
        errors.at(&sig.generics, message);
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

    let want = if phase.has_body() { 3 } else { 2 };
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    if inputs.len() < want {
        let span = if inputs.is_empty() {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        errors.push(syn::Error::new(
            span,
            format!(
                "this `#[{attr}]` handler takes {} argument{}, expected {want}: `{shape} {}{expected}`",
                inputs.len(),
                if inputs.len() == 1 { "" } else { "s" },
                sig.ident
            ),
        ));
    }
    for extra in inputs.iter().skip(want) {
        errors.at(
            extra,
            format!(
                "unexpected argument: a `#[{attr}]` handler is `{shape} {}{expected}`",
                sig.ident
            ),
        );
    }

    let mut config_ty = None;
    for (index, input) in inputs.iter().take(want).enumerate() {
        let ty = match input {
            FnArg::Receiver(receiver) => {
                errors.at(
                    receiver,
                    format!("a `#[{attr}]` handler is a free function, it cannot take `self`"),
                );
                continue;
            }
            FnArg::Typed(pat) => &*pat.ty,
        };
        // (Lifetimes declared on a generic handler are reported once, above.)
        if let (Type::Reference(r), false) = (ty, generic) {
            if let Some(lifetime) = r.lifetime.as_ref().filter(|l| l.ident != "_") {
                let name = ["ctx", "config", "body"][index];
                errors.at(
                    lifetime,
                    format!(
                        "remove `{lifetime}`: `{name}` is lent to the handler for as long as it runs, no longer"
                    ),
                );
            }
        }
        match index {
            0 => match ty {
                Type::Reference(r)
                    if r.mutability.is_some()
                        && last_segment(&r.elem).as_deref() == Some("HttpContext") => {}
                _ => errors.at(ty, "expected `&mut HttpContext` as the first argument"),
            },
            1 => match ty {
                Type::Reference(r) if r.mutability.is_none() => {
                    config_ty = Some((*r.elem).clone());
                }
                Type::Reference(r) => errors.at(
                    r.mutability,
                    "the config is shared by every request: take it as `&YourConfig`, not `&mut`",
                ),
                _ => errors.at(
                    ty,
                    "expected `&YourConfig` as the second argument: a reference to the type marked `#[plugin]`",
                ),
            },
            _ => match ty {
                Type::Reference(r) if r.mutability.is_none() && is_u8_slice(&r.elem) => {}
                _ => errors.at(ty, "expected `&[u8]`: the whole body, as bytes"),
            },
        }
    }

    let returns_action = match &sig.output {
        ReturnType::Type(_, ty) if last_segment(ty).as_deref() == Some("Action") => true,
        ReturnType::Default if phase == Phase::StreamDone => false,
        ReturnType::Default => {
            let span = sig.paren_token.span.close();
            errors.push(syn::Error::new(
                span,
                format!(
                    "a `#[{attr}]` handler must return `Action`: `{shape} {}{expected}`",
                    sig.ident
                ),
            ));
            false
        }
        ReturnType::Type(_, ty) => {
            let what = if phase == Phase::StreamDone {
                "a `#[on_stream_done]` handler returns nothing or `Action`".to_string()
            } else {
                format!("expected `Action`: a `#[{attr}]` handler returns `Action::Continue`, `Action::Pause` or `ctx.send_response(..)`")
            };
            errors.at(ty, what);
            false
        }
    };

    config_ty.map(|config_ty| Handler {
        config_ty,
        returns_action,
        is_async: sig.asyncness.is_some(),
    })
}

pub(crate) fn expand(phase: Phase, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let attr = phase.attr();
    if !args.is_empty() {
        errors.at(&args, format!("`#[{attr}]` takes no arguments"));
    }
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[{attr}]` goes on a handler function: `fn handler{}`",
                    phase.expected_signature()
                ),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let handler = check_signature(phase, &func, &mut errors);
    if let Err(err) = errors.finish() {
        return with_item(err, item);
    }
    let Some(Handler {
        config_ty,
        returns_action,
        is_async,
    }) = handler
    else {
        unreachable!("a signature without a config type is reported as an error")
    };

    let trait_name = phase.trait_name();
    let fn_ident = &func.sig.ident;
    let private = quote!(::gateway_plugin::__private);
    let (handler_ty, body_arg, body_param) = if phase.has_body() {
        (quote!(BodyHandler), quote!(, &body), quote!(, body))
    } else {
        (quote!(HeadersHandler), quote!(), quote!())
    };
    // Spans are the function name's, so a type mismatch the syntax checks
    // above could not see points at the handler.
    let value = match (is_async, returns_action) {
        (false, true) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Sync(#fn_ident)
        },
        (false, false) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Sync({
                fn __no_action(
                    ctx: &mut ::gateway_plugin::HttpContext,
                    config: &#config_ty,
                ) -> ::gateway_plugin::Action {
                    #fn_ident(ctx, config);
                    ::gateway_plugin::Action::Continue
                }
                __no_action
            })
        },
        // The task owns the context and an `Rc` of the config, so the
        // handler's future, which borrows them, is `'static`.
        (true, true) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Async(|mut ctx, config #body_param| {
                #private::boxed_task(async move {
                    let action = #fn_ident(&mut ctx, &config #body_arg).await;
                    (ctx, action)
                })
            })
        },
        (true, false) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Async(|mut ctx, config #body_param| {
                #private::boxed_task(async move {
                    #fn_ident(&mut ctx, &config #body_arg).await;
                    (ctx, ::gateway_plugin::Action::Continue)
                })
            })
        },
    };
    // Spanned at the config type: "not a plugin configuration type" points there.
    let imp = quote_spanned! {config_ty.span()=>
        impl #private::#trait_name for #config_ty {
            const HANDLER: #private::#handler_ty<Self> = #value;
        }
    };
    quote! {
        #func
        #imp
    }
}
