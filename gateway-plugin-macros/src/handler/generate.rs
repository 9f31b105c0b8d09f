//! The code a checked handler becomes: the phase's trait implemented for
//! the config type, its `HANDLER` a wrapper fn (or, for an `async fn`, a
//! closure that boxes the task) around the user's function.
//!
//! Spans: the context goes through a trait bound spanned at the argument's
//! type and the return value through one spanned at the return type, so a
//! wrong type is one error at the culprit and aliases pass; the rest is
//! spanned at the function's name, so a mismatch the checks could not see
//! points at the handler; the `impl` is spanned at the config type, so "not
//! a plugin configuration type" points there.

use super::check::Handler;
use super::options::Options;
use super::Phase;
use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

/// The user's function, unchanged, then the phase's trait for its config
/// type.
pub(super) fn phase_impl(
    phase: Phase,
    options: &Options,
    krate: &syn::Path,
    func: &ItemFn,
    handler: &Handler,
) -> TokenStream {
    let Handler {
        ctx_ty,
        config_ty,
        is_async,
        ..
    } = handler;
    let trait_name = phase.trait_name(options.streaming);
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
    let cast = quote_spanned!(ctx_ty.span()=> <#ctx_ty as #private::IsHttpContext>::cast);
    let (handler_ty, value) = if options.streaming {
        (
            quote_spanned!(config_ty.span()=> ChunkHandler),
            chunk_handler(krate, func, config_ty, &cast, *is_async),
        )
    } else {
        whole_handler(phase, krate, &func.sig.ident, handler, &cast)
    };
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

/// The handler type (`HeadersHandler` or `BodyHandler`) and value of a
/// handler that sees the headers or the whole body: a wrapper fn that
/// turns its value into an `Action` (`into_action`; `Continue` if it
/// returns nothing) or, for an `async fn`, a task.
fn whole_handler(
    phase: Phase,
    krate: &syn::Path,
    fn_ident: &Ident,
    handler: &Handler,
    cast: &TokenStream,
) -> (TokenStream, TokenStream) {
    let Handler {
        ret_ty,
        config_ty,
        returns_action,
        is_async,
        ..
    } = handler;
    let private = quote!(#krate::__private);
    let has_body = phase.has_body();
    let handler_ty = if has_body {
        quote!(BodyHandler)
    } else {
        quote!(HeadersHandler)
    };
    // The body as the wrapper declares it, takes it and passes it on.
    let body_decl = has_body.then(|| quote!(, body: &[u8]));
    let body_param = has_body.then(|| quote!(, body));
    let body_arg = has_body.then(|| quote!(, &body));
    let ret_span = ret_ty.as_ref().map_or(fn_ident.span(), |ty| ty.span());
    let to_action = quote_spanned!(ret_span=> #private::into_action(__out));
    let krate = crate::krate::respan(krate, fn_ident.span());
    let value = match (is_async, returns_action) {
        (false, true) => quote_spanned! {fn_ident.span()=>
            #private::#handler_ty::Sync({
                fn __handler(
                    ctx: &mut #krate::HttpContext,
                    config: &#config_ty
                    #body_decl
                ) -> #krate::Action {
                    let __out = #fn_ident(#cast(ctx), config #body_param);
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
                    #fn_ident(#cast(ctx), config #body_param);
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
    (handler_ty, value)
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
