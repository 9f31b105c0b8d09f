//! `#[parse_config]`: a function that builds the config from the gateway's JSON.

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

const EXPECTED: &str =
    "fn parse(json: &serde_json::Value) -> Result<YourConfig, E> where E: Display";

/// `C` of a `Result<C, E>` return type.
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 2 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(ok) => Some(ok.clone()),
        _ => None,
    }
}

/// The config type a wrong return type most likely meant: `X` of `Option<X>`
/// or `Box<X>`, or the type itself.
fn guess_config_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    match &last.arguments {
        PathArguments::None => Some(ty.clone()),
        PathArguments::AngleBracketed(args) => match args.args.first()? {
            GenericArgument::Type(inner) => Some(inner.clone()),
            _ => None,
        },
        PathArguments::Parenthesized(_) => None,
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.at(&args, "`#[parse_config]` takes no arguments");
    }
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!("`#[parse_config]` goes on a function: `{EXPECTED}`"),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let sig = &func.sig;
    if let Some(asyncness) = sig.asyncness {
        errors.at(
            asyncness,
            "`#[parse_config]` runs at configure time and cannot be `async`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(&sig.generics, "`#[parse_config]` cannot be generic");
    }
    match sig.inputs.len() {
        1 => match sig.inputs.first() {
            Some(FnArg::Typed(pat)) => match &*pat.ty {
                Type::Reference(r) if r.mutability.is_none() => {}
                other => errors.at(
                    other,
                    format!("expected `&serde_json::Value`: `{EXPECTED}`"),
                ),
            },
            Some(receiver) => errors.at(
                receiver,
                "`#[parse_config]` is a free function, it cannot take `self`",
            ),
            None => {}
        },
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!("`#[parse_config]` takes the configuration JSON: `{EXPECTED}`"),
        )),
        n => errors.push(syn::Error::new(
            sig.inputs.span(),
            format!("`#[parse_config]` takes 1 argument, not {n}: `{EXPECTED}`"),
        )),
    }
    let config_ty = match &sig.output {
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(config_ty) => Some(config_ty),
            None => {
                errors.at(
                    ty,
                    format!("expected `Result<YourConfig, E>`: `{EXPECTED}`"),
                );
                None
            }
        },
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                format!("`#[parse_config]` must return `Result<YourConfig, E>`: `{EXPECTED}`"),
            ));
            None
        }
    };
    if let Err(err) = errors.finish() {
        // Still tell the plugin where its config comes from, so the mistake
        // above is the only error (not also "no configuration source").
        let fallback = config_ty.or_else(|| match &sig.output {
            ReturnType::Type(_, ty) => guess_config_type(ty),
            ReturnType::Default => None,
        });
        let mut out = with_item(err, item);
        if let Some(config_ty) = fallback {
            out.extend(quote! {
                impl ::gateway_plugin::__private::ParseConfig for #config_ty {
                    fn parse_config(
                        _: &::gateway_plugin::__private::serde_json::Value,
                    ) -> ::core::result::Result<Self, ::gateway_plugin::ConfigError> {
                        ::core::unreachable!()
                    }
                }
            });
        }
        return out;
    }
    let Some(config_ty) = config_ty else {
        unreachable!("a missing config type is reported as an error")
    };
    let fn_ident = &sig.ident;
    let value = quote_spanned!(fn_ident.span()=> #fn_ident);
    let imp = quote_spanned! {config_ty.span()=>
        impl ::gateway_plugin::__private::ParseConfig for #config_ty {
            fn parse_config(
                json: &::gateway_plugin::__private::serde_json::Value,
            ) -> ::core::result::Result<Self, ::gateway_plugin::ConfigError> {
                ::gateway_plugin::__private::config::from_parse_fn(json, #value)
            }
        }
        const _: fn() = ::gateway_plugin::__private::assert_plugin::<#config_ty>;
    };
    quote! {
        #func
        #imp
    }
}
