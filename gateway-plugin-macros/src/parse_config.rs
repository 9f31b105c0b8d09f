//! `#[parse_config]`: a function that builds the config from the gateway's
//! JSON; `#[parse_rule_config]`: one that builds a rule's config (`_rules_`)
//! from the rule's JSON and the global config (Go's `ParseOverrideConfig`).

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Signature, Type};

/// Which of the two attributes.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Config,
    RuleConfig,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Config => "#[parse_config]",
            Kind::RuleConfig => "#[parse_rule_config]",
        }
    }
    fn expected(self) -> &'static str {
        match self {
            Kind::Config => {
                "fn parse(json: &serde_json::Value) -> Result<YourConfig, E> where E: Display"
            }
            Kind::RuleConfig => {
                "fn parse_rule(json: &serde_json::Value, global: &YourConfig) -> Result<YourConfig, E> where E: Display"
            }
        }
    }
    fn arity(self) -> usize {
        match self {
            Kind::Config => 1,
            Kind::RuleConfig => 2,
        }
    }
}

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

/// Checks the function, then implements `ParseConfig` (or
/// `ParseRuleConfig`) for the config type it returns; on any problem, the
/// errors and the function unchanged.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let attr = kind.attr();
    let mut errors = Errors::default();
    let (krate, args) = crate::krate::split(args, &mut errors);
    if !args.is_empty() {
        errors.at(
            &args,
            format!("`{attr}` takes no arguments (other than `crate = path`)"),
        );
    }
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!("`{attr}` goes on a function: `{}`", kind.expected()),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let sig = &func.sig;
    check_qualifiers(kind, sig, &mut errors);
    check_arguments(kind, sig, &mut errors);
    let config_ty = check_return(kind, sig, &mut errors);
    if let Err(err) = errors.finish() {
        let mut out = with_item(err, item);
        if let Kind::Config = kind {
            out.extend(placeholder_impl(&krate, sig, config_ty));
        }
        return out;
    }
    let Some(config_ty) = config_ty else {
        unreachable!("a missing config type is reported as an error")
    };
    parse_impl(kind, &krate, &func, &config_ty)
}

/// What the function cannot be: `async` (configuring is not), generic.
fn check_qualifiers(kind: Kind, sig: &Signature, errors: &mut Errors) {
    let attr = kind.attr();
    if let Some(asyncness) = sig.asyncness {
        errors.at(
            asyncness,
            format!("`{attr}` runs at configure time and cannot be `async`"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(&sig.generics, format!("`{attr}` cannot be generic"));
    }
}

/// The arguments: as many as the kind takes, each a shared reference (the
/// JSON, then the global config). Which types they are is left to the call
/// in the generated code.
fn check_arguments(kind: Kind, sig: &Signature, errors: &mut Errors) {
    let (attr, expected) = (kind.attr(), kind.expected());
    match sig.inputs.len() {
        n if n == kind.arity() => {
            for (i, input) in sig.inputs.iter().enumerate() {
                let what = match i {
                    0 => "`&serde_json::Value`",
                    _ => "`&YourConfig` (the global config)",
                };
                match input {
                    FnArg::Typed(pat) => match &*pat.ty {
                        Type::Reference(r) if r.mutability.is_none() => {}
                        other => errors.at(other, format!("expected {what}: `{expected}`")),
                    },
                    receiver => errors.at(
                        receiver,
                        format!("`{attr}` is a free function, it cannot take `self`"),
                    ),
                }
            }
        }
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!("`{attr}` takes the configuration JSON: `{expected}`"),
        )),
        n => errors.push(syn::Error::new(
            sig.inputs.span(),
            format!(
                "`{attr}` takes {} argument{}, not {n}: `{expected}`",
                kind.arity(),
                if kind.arity() == 1 { "" } else { "s" }
            ),
        )),
    }
}

/// `C` of the `Result<C, E>` the function returns.
fn check_return(kind: Kind, sig: &Signature, errors: &mut Errors) -> Option<Type> {
    let (attr, expected) = (kind.attr(), kind.expected());
    match &sig.output {
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(config_ty) => Some(config_ty),
            None => {
                errors.at(
                    ty,
                    format!("expected `Result<YourConfig, E>`: `{expected}`"),
                );
                None
            }
        },
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                format!("`{attr}` must return `Result<YourConfig, E>`: `{expected}`"),
            ));
            None
        }
    }
}

/// Beside the errors of a faulty `#[parse_config]`: still tell the plugin
/// where its config comes from (the config type returned, or the one a
/// wrong return type most likely meant), so the mistake is the only error
/// (not also "no configuration source").
fn placeholder_impl(krate: &syn::Path, sig: &Signature, config_ty: Option<Type>) -> TokenStream {
    let fallback = config_ty.or_else(|| match &sig.output {
        ReturnType::Type(_, ty) => guess_config_type(ty),
        ReturnType::Default => None,
    });
    let Some(config_ty) = fallback else {
        return TokenStream::new();
    };
    quote! {
        impl #krate::__private::ParseConfig for #config_ty {
            fn parse_config(
                _: &#krate::__private::serde_json::Value,
            ) -> ::core::result::Result<Self, #krate::ConfigError> {
                ::core::unreachable!()
            }
        }
    }
}

/// The function, unchanged, then the config type's `ParseConfig` (or
/// `ParseRuleConfig`) calling it, and a check that the type is the
/// plugin's.
fn parse_impl(kind: Kind, krate: &syn::Path, func: &ItemFn, config_ty: &Type) -> TokenStream {
    let fn_ident = &func.sig.ident;
    let value = quote_spanned!(fn_ident.span()=> #fn_ident);
    let krate = crate::krate::respan(krate, config_ty.span());
    let imp = match kind {
        Kind::Config => quote_spanned! {config_ty.span()=>
            impl #krate::__private::ParseConfig for #config_ty {
                fn parse_config(
                    json: &#krate::__private::serde_json::Value,
                ) -> ::core::result::Result<Self, #krate::ConfigError> {
                    #krate::__private::config::from_parse_fn(json, #value)
                }
            }
            const _: fn() = #krate::__private::assert_plugin::<#config_ty>;
        },
        Kind::RuleConfig => quote_spanned! {config_ty.span()=>
            impl #krate::__private::ParseRuleConfig for #config_ty {
                fn parse_rule_config(
                    json: &#krate::__private::serde_json::Value,
                    global: &Self,
                ) -> ::core::result::Result<Self, #krate::ConfigError> {
                    #krate::__private::config::from_parse_rule_fn(json, global, #value)
                }
            }
            const _: fn() = #krate::__private::assert_plugin::<#config_ty>;
        },
    };
    quote! {
        #func
        #imp
    }
}
