//! The phase attributes: `#[on_request_headers]`, `#[on_request_body]`,
//! `#[on_response_headers]`, `#[on_response_body]`, `#[on_stream_done]`.
//!
//! Each checks the handler's signature, then implements the phase's trait
//! (`gateway_plugin::__private::OnRequestHeaders`, ...) for the config type
//! named in the signature, pointing it at the function.
//!
//! The body phases take options: `streaming` (the handler gets each chunk
//! as it arrives, `(ctx, config, chunk: &[u8], end_of_stream: bool)`, and
//! returns what goes on in its place), `binary` (binary bodies reach the
//! handler too) and `hold_headers` (the headers wait for the body handler,
//! which may change them, where the gateway allows it).

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

    fn trait_name(self, streaming: bool) -> syn::Ident {
        let name = match self {
            Phase::RequestHeaders => "OnRequestHeaders",
            Phase::RequestBody if streaming => "OnRequestBodyStreaming",
            Phase::RequestBody => "OnRequestBody",
            Phase::ResponseHeaders => "OnResponseHeaders",
            Phase::ResponseBody if streaming => "OnResponseBodyStreaming",
            Phase::ResponseBody => "OnResponseBody",
            Phase::StreamDone => "OnStreamDone",
        };
        syn::Ident::new(name, Span::call_site())
    }

    fn has_body(self) -> bool {
        matches!(self, Phase::RequestBody | Phase::ResponseBody)
    }

    fn expected_signature(self, streaming: bool) -> &'static str {
        match self {
            Phase::RequestBody | Phase::ResponseBody if streaming => {
                "(ctx: &mut HttpContext, config: &YourConfig, chunk: &[u8], end_of_stream: bool) -> Vec<u8>"
            }
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

/// The options of a body phase attribute.
#[derive(Default)]
struct Options {
    streaming: bool,
    binary: bool,
    hold_headers: bool,
}

fn parse_options(phase: Phase, args: TokenStream, errors: &mut Errors) -> Options {
    use syn::parse::Parser;
    let attr = phase.attr();
    let mut options = Options::default();
    if args.is_empty() {
        return options;
    }
    if !phase.has_body() {
        errors.at(
            &args,
            format!("`#[{attr}]` takes no arguments (other than `crate = path`)"),
        );
        return options;
    }
    let expected = format!(
        "`#[{attr}]` takes `streaming` (one chunk at a time), `binary` (binary bodies too) and `hold_headers` (the headers wait for this handler), e.g. `#[{attr}(streaming)]`"
    );
    let parser = syn::punctuated::Punctuated::<syn::Ident, syn::Token![,]>::parse_terminated;
    let idents = match parser.parse2(args.clone()) {
        Ok(idents) => idents,
        Err(_) => {
            errors.at(&args, expected);
            return options;
        }
    };
    for ident in idents {
        let flag = if ident == "streaming" {
            &mut options.streaming
        } else if ident == "binary" {
            &mut options.binary
        } else if ident == "hold_headers" {
            &mut options.hold_headers
        } else {
            errors.at(&ident, format!("unknown option `{ident}`: {expected}"));
            continue;
        };
        if std::mem::replace(flag, true) {
            errors.at(&ident, format!("`{ident}` is given twice"));
        }
    }
    options
}

/// A checked handler signature.
struct Handler {
    /// The type behind the first argument's `&mut` (checked to be
    /// `HttpContext` by a trait bound spanned at it, so aliases work).
    ctx_ty: Type,
    /// The return type, if any (checked by `into_action`/`into_chunk`).
    ret_ty: Option<Type>,
    config_ty: Type,
    returns_action: bool,
    is_async: bool,
}

fn check_signature(
    phase: Phase,
    streaming: bool,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<Handler> {
    let sig = &func.sig;
    let attr = phase.attr();
    let expected = phase.expected_signature(streaming);

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

    let want = match (phase.has_body(), streaming) {
        (true, true) => 4,
        (true, false) => 3,
        _ => 2,
    };
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
    let mut ctx_ty = None;
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
                let name = if streaming {
                    ["ctx", "config", "chunk", "end_of_stream"][index]
                } else {
                    ["ctx", "config", "body", ""][index]
                };
                errors.at(
                    lifetime,
                    format!(
                        "remove `{lifetime}`: `{name}` is lent to the handler for as long as it runs, no longer"
                    ),
                );
            }
        }
        match index {
            // Which type it is, is checked by a trait bound spanned at it
            // (so `use gateway_plugin::HttpContext as Ctx;` works).
            0 => match ty {
                Type::Reference(r) if r.mutability.is_some() => {
                    ctx_ty = Some((*r.elem).clone());
                }
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
            2 => match ty {
                Type::Reference(r) if r.mutability.is_none() && is_u8_slice(&r.elem) => {}
                _ if streaming => errors.at(ty, "expected `&[u8]`: this chunk of the body, as bytes"),
                _ => errors.at(ty, "expected `&[u8]`: the whole body, as bytes"),
            },
            _ => match ty {
                _ if last_segment(ty).as_deref() == Some("bool") => {}
                _ => errors.at(
                    ty,
                    "expected `bool`: whether this chunk is the body's last (`end_of_stream`)",
                ),
            },
        }
    }

    if streaming {
        // Any return type: `into_chunk`'s bound, spanned at it, says which
        // are accepted.
        if let ReturnType::Default = &sig.output {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                format!(
                    "a `#[{attr}(streaming)]` handler returns the bytes to send on in place of the chunk: `{shape} {}{expected}` (or `-> Chunk`, e.g. `Chunk::Pass`)",
                    sig.ident
                ),
            ));
        }
        return Some(Handler {
            ctx_ty: ctx_ty?,
            ret_ty: match &sig.output {
                ReturnType::Type(_, ty) => Some((**ty).clone()),
                ReturnType::Default => None,
            },
            config_ty: config_ty?,
            returns_action: false,
            is_async: sig.asyncness.is_some(),
        });
    }

    // Any return type: `into_action`'s bound, spanned at it, says which is
    // accepted (an alias of `Action` is).
    let returns_action = match &sig.output {
        ReturnType::Type(..) => true,
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
    };

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

pub(crate) fn expand(phase: Phase, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let attr = phase.attr();
    let (krate, args) = crate::krate::split(args, &mut errors);
    let options = parse_options(phase, args, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[{attr}]` goes on a handler function: `fn handler{}`",
                    phase.expected_signature(options.streaming)
                ),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let handler = check_signature(phase, options.streaming, &func, &mut errors);
    if let Err(err) = errors.finish() {
        return with_item(err, item);
    }
    let Some(Handler {
        ctx_ty,
        ret_ty,
        config_ty,
        returns_action,
        is_async,
    }) = handler
    else {
        unreachable!("a signature without a config type is reported as an error")
    };

    let trait_name = phase.trait_name(options.streaming);
    let fn_ident = &func.sig.ident;
    let private = quote!(#krate::__private);
    let binary = options.binary.then(|| {
        quote!(
            const BINARY: bool = true;
        )
    });
    let hold_headers = options.hold_headers.then(|| {
        quote!(
            const HOLD_HEADERS: bool = true;
        )
    });
    if options.streaming {
        let cast = quote_spanned!(ctx_ty.span()=> <#ctx_ty as #private::IsHttpContext>::cast);
        let value = chunk_handler(&krate, &func, &config_ty, &cast, is_async);
        let imp = quote_spanned! {config_ty.span()=>
            impl #private::#trait_name for #config_ty {
                const HANDLER: #private::ChunkHandler<Self> = #value;
                #binary
                #hold_headers
            }
        };
        return quote! {
            #func
            #imp
        };
    }
    let (handler_ty, body_arg, body_param, body_decl) = if phase.has_body() {
        (
            quote!(BodyHandler),
            quote!(, &body),
            quote!(, body),
            quote!(, body: &[u8]),
        )
    } else {
        (quote!(HeadersHandler), quote!(), quote!(), quote!())
    };
    // The context goes through a trait bound spanned at the argument's type,
    // the return value through one spanned at the return type: a wrong type
    // is one error, at the culprit, and aliases pass.
    let cast = quote_spanned!(ctx_ty.span()=> <#ctx_ty as #private::IsHttpContext>::cast);
    let ret_span = ret_ty.as_ref().map_or(fn_ident.span(), |ty| ty.span());
    let to_action = quote_spanned!(ret_span=> #private::into_action(__out));
    let body_use = if phase.has_body() {
        quote!(, body)
    } else {
        quote!()
    };
    // Other spans are the function name's, so a type mismatch the checks
    // above could not see points at the handler.
    let krate = crate::krate::respan(&krate, fn_ident.span());
    let value = match (is_async, returns_action) {
        (false, true) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Sync({
                fn __handler(
                    ctx: &mut #krate::HttpContext,
                    config: &#config_ty
                    #body_decl
                ) -> #krate::Action {
                    let __out = #fn_ident(#cast(ctx), config #body_use);
                    #to_action
                }
                __handler
            })
        },
        (false, false) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Sync({
                fn __no_action(
                    ctx: &mut #krate::HttpContext,
                    config: &#config_ty
                    #body_decl
                ) -> #krate::Action {
                    #fn_ident(#cast(ctx), config #body_use);
                    #krate::Action::Continue
                }
                __no_action
            })
        },
        // The task owns the context and an `Rc` of the config, so the
        // handler's future, which borrows them, is `'static`.
        (true, true) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Async(|mut ctx, config #body_param| {
                #private::boxed_task(async move {
                    let __out = #fn_ident(#cast(&mut ctx), &config #body_arg).await;
                    let action = #to_action;
                    (ctx, action)
                })
            })
        },
        (true, false) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Async(|mut ctx, config #body_param| {
                #private::boxed_task(async move {
                    #fn_ident(#cast(&mut ctx), &config #body_arg).await;
                    (ctx, #krate::Action::Continue)
                })
            })
        },
    };
    // Spanned at the config type: "not a plugin configuration type" points there.
    let imp = quote_spanned! {config_ty.span()=>
        impl #private::#trait_name for #config_ty {
            const HANDLER: #private::#handler_ty<Self> = #value;
            #binary
            #hold_headers
        }
    };
    quote! {
        #func
        #imp
    }
}

/// The `ChunkHandler` of a streaming handler: a wrapper fn that converts its
/// return value (`into_chunk`, spanned at the return type, so an unusable
/// type is reported there) and, for an `async fn`, boxes its future.
fn chunk_handler(
    krate: &syn::Path,
    func: &ItemFn,
    config_ty: &Type,
    cast: &TokenStream,
    is_async: bool,
) -> TokenStream {
    let private = quote!(#krate::__private);
    let fn_ident = &func.sig.ident;
    let ret_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => fn_ident.span(),
    };
    // The bound's error points at the argument: spanned at the return type.
    let convert = quote_spanned!(ret_span=> #private::into_chunk(__out));
    if is_async {
        quote_spanned! {fn_ident.span()=>
            #private::ChunkHandler::Async({
                fn __chunk<'a>(
                    ctx: &'a mut #krate::HttpContext,
                    config: &'a #config_ty,
                    chunk: &'a [u8],
                    end_of_stream: bool,
                ) -> #private::ChunkFuture<'a> {
                    ::std::boxed::Box::pin(async move {
                        let __out = #fn_ident(#cast(ctx), config, chunk, end_of_stream).await;
                        #convert
                    })
                }
                __chunk
            })
        }
    } else {
        quote_spanned! {fn_ident.span()=>
            #private::ChunkHandler::Sync({
                fn __chunk(
                    ctx: &mut #krate::HttpContext,
                    config: &#config_ty,
                    chunk: &[u8],
                    end_of_stream: bool,
                ) -> #krate::Chunk {
                    let __out = #fn_ident(#cast(ctx), config, chunk, end_of_stream);
                    #convert
                }
                __chunk
            })
        }
    }
}
