//! `#[plugin(name = "...")]` on the configuration type.

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Item, LitStr, Meta, Token};

struct Args {
    name: LitStr,
    settings: Settings,
    /// `crate = path`.
    krate: syn::Path,
}

/// The optional arguments, each with its default.
#[derive(Default)]
struct Settings {
    /// `log = "higress"`: Higress's log line format.
    higress_log: bool,
    /// `rule_config = "merge"`: rules laid over the global JSON.
    merge_rules: bool,
    /// `rebuild_after_requests = N` (0: never).
    rebuild_after_requests: u64,
    /// `rebuild_max_memory_bytes = M` (0: never).
    rebuild_max_memory_bytes: u64,
}

/// The arguments; `None` if they do not parse or the name is missing
/// (reported, with every other problem).
fn parse_args(args: TokenStream, errors: &mut Errors) -> Option<Args> {
    let (krate, args) = crate::krate::split(args, errors);
    let metas = crate::args::metas(args, errors)?;
    let mut name: Option<LitStr> = None;
    let mut settings = Settings::default();
    for meta in metas {
        match &meta {
            Meta::NameValue(nv)
                if nv.path.is_ident("rebuild_after_requests")
                    || nv.path.is_ident("rebuild_max_memory_bytes") =>
            {
                parse_rebuild(nv, &mut settings, errors);
            }
            Meta::NameValue(nv) if nv.path.is_ident("rule_config") => parse_choice(
                &nv.value,
                ("alone", "merge"),
                &mut settings.merge_rules,
                "`rule_config` is `\"alone\"` (a rule is parsed by itself, the default) or `\"merge\"` (a rule's keys are laid over the global configuration)",
                errors,
            ),
            Meta::NameValue(nv) if nv.path.is_ident("log") => parse_choice(
                &nv.value,
                ("plain", "higress"),
                &mut settings.higress_log,
                "`log` is `\"plain\"` (`[name] message`, the default) or `\"higress\"` (`[name] [plugin-id] [request-id] message`)",
                errors,
            ),
            Meta::NameValue(nv) if nv.path.is_ident("name") => parse_name(nv, &mut name, errors),
            Meta::Path(path) | Meta::List(syn::MetaList { path, .. }) if path.is_ident("name") => {
                errors.at(&meta, "write the name as `name = \"my-plugin\"`");
            }
            other => {
                let path = other.path();
                let shown = quote!(#path).to_string().replace(' ', "");
                errors.at(
                    path,
                    format!("unknown argument `{shown}`: `#[plugin]` takes `name = \"...\"`, `log = \"higress\"`, `rule_config = \"merge\"`, `rebuild_after_requests = N`, `rebuild_max_memory_bytes = N` and `crate = path`"),
                );
            }
        }
    }
    match name {
        Some(name) => Some(Args {
            name,
            settings,
            krate,
        }),
        None => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing plugin name: write `#[plugin(name = \"my-plugin\")]`",
            ));
            None
        }
    }
}

/// `rebuild_after_requests = N` or `rebuild_max_memory_bytes = M`: a
/// number, 1 or more.
fn parse_rebuild(nv: &syn::MetaNameValue, settings: &mut Settings, errors: &mut Errors) {
    let value = match &nv.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => lit.base10_parse::<u64>().ok().filter(|n| *n > 0),
        _ => None,
    };
    match value {
        Some(n) if nv.path.is_ident("rebuild_after_requests") => {
            settings.rebuild_after_requests = n
        }
        Some(n) => settings.rebuild_max_memory_bytes = n,
        None => errors.at(&nv.value, "expected a number, 1 or more"),
    }
}

/// A setting that is one of two words (`(off, on)`): `setting` is whether
/// it is `on`; any other value is reported with `message`.
fn parse_choice(
    value: &syn::Expr,
    (off, on): (&str, &str),
    setting: &mut bool,
    message: &str,
    errors: &mut Errors,
) {
    match string_choice(value, off, on) {
        Some(chosen) => *setting = chosen,
        None => errors.at(value, message),
    }
}

/// `name = "my-plugin"`: a string literal, not empty, given once.
fn parse_name(nv: &syn::MetaNameValue, name: &mut Option<LitStr>, errors: &mut Errors) {
    let Some(lit) = crate::args::lit_str(&nv.value).cloned() else {
        errors.at(
            &nv.value,
            "`name` must be a string literal: `name = \"my-plugin\"`",
        );
        return;
    };
    if lit.value().trim().is_empty() {
        errors.at(&lit, "the plugin name must not be empty");
    } else if name.is_some() {
        errors.at(&nv.path, "`name` is given twice");
    } else {
        *name = Some(lit);
    }
}

/// A string literal that is one of two words: `Some(false)` for `off`,
/// `Some(true)` for `on`, `None` for anything else.
fn string_choice(value: &syn::Expr, off: &str, on: &str) -> Option<bool> {
    let word = crate::args::lit_str(value)?.value();
    (word == off || word == on).then(|| word == on)
}

/// Whether the item derives serde's `Deserialize` (any path ending in it).
fn derives_deserialize(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|attr| {
            attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .map(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == "Deserialize"))
                })
                .unwrap_or(false)
        })
}

/// Whether the user already chose serde's crate path.
fn has_serde_crate(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .any(|attr| {
            let mut found = false;
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    found = true;
                }
                // Skip the value of `key = value` entries we do not care about.
                if meta.input.peek(Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _: TokenStream = meta.input.parse()?;
                }
                Ok(())
            });
            found
        })
}

/// Checks the configuration type, then implements `Plugin` for it and
/// exports the plugin's entry point; on any problem, the errors and the
/// item (with only its serde path set).
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = parse_args(args, &mut errors);

    let mut parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let krate = args
        .as_ref()
        .map_or_else(crate::krate::default_path, |a| a.krate.clone());
    let Some(ident) = prepare_config_type(&mut parsed, &krate, &mut errors) else {
        return with_item(errors.finish().unwrap_err(), item);
    };
    if let Err(err) = errors.finish() {
        return with_item(err, quote!(#parsed));
    }
    let Some(args) = args else {
        unreachable!("errors.finish() reports a missing name")
    };
    plugin_impl(&args, &ident, &parsed)
}

/// The configuration type's name, after pointing its serde derive (if any)
/// at our re-export and checking that it is not generic; `None` (and an
/// error) if the item is not a struct or enum.
fn prepare_config_type(
    parsed: &mut Item,
    krate: &syn::Path,
    errors: &mut Errors,
) -> Option<syn::Ident> {
    let (ident, generics, attrs) = match parsed {
        Item::Struct(s) => (s.ident.clone(), &s.generics, &mut s.attrs),
        Item::Enum(e) => (e.ident.clone(), &e.generics, &mut e.attrs),
        Item::Fn(f) => {
            errors.at(
                f.sig.fn_token,
                "`#[plugin]` goes on the plugin's configuration type (a struct or enum), not on a function; mark handlers with `#[on_request_headers]` and friends",
            );
            return None;
        }
        other => {
            errors.at(
                other,
                "`#[plugin]` goes on the plugin's configuration type (a struct or enum)",
            );
            return None;
        }
    };
    // serde's derive refers to `serde` by crate name; a plugin crate depends
    // only on gateway-plugin, so point the derive at our re-export. Done
    // before reporting argument errors, so they do not bring a second,
    // unrelated "can't find crate for `serde`".
    if derives_deserialize(attrs) && !has_serde_crate(attrs) {
        let serde = format!("{}::__private::serde", quote!(#krate)).replace(' ', "");
        attrs.push(syn::parse_quote!(#[serde(crate = #serde)]));
    }
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.at(
            generics,
            "a plugin configuration type cannot be generic: the gateway instantiates exactly one",
        );
    }
    Some(ident)
}

/// The configuration type, then its `Plugin` implementation (the
/// compile-time lookups of its handlers, ticks and config sources are the
/// runtime's `__private` macros) and the proxy-wasm entry point.
fn plugin_impl(args: &Args, ident: &syn::Ident, parsed: &Item) -> TokenStream {
    let Args {
        name,
        settings:
            Settings {
                higress_log,
                merge_rules,
                rebuild_after_requests,
                rebuild_max_memory_bytes,
            },
        krate,
    } = args;
    quote! {
        #parsed

        impl #krate::__private::Plugin for #ident {
            const NAME: &'static str = #name;
            const HIGRESS_LOG: bool = #higress_log;
            const REBUILD_AFTER_REQUESTS: u64 = #rebuild_after_requests;
            const REBUILD_MAX_MEMORY_BYTES: u64 = #rebuild_max_memory_bytes;
            fn parse_config(
                raw: &[u8],
            ) -> ::core::result::Result<
                #krate::__private::RuleSet<Self>,
                #krate::ConfigError,
            > {
                #krate::__private::parse_rules!(Self, raw, #merge_rules)
            }
            #[inline(always)]
            fn handlers() -> #krate::__private::Handlers<Self> {
                #krate::__private::handlers!(Self)
            }
            #[inline(always)]
            fn may_have_rules() -> bool {
                #krate::__private::may_have_rules!(Self)
            }
            #[inline(always)]
            fn ticks() -> #krate::__private::Ticks<Self> {
                #krate::__private::ticks!(Self)
            }
            #[inline(always)]
            fn has_ticks() -> bool {
                #krate::__private::has_ticks!(Self)
            }
        }

        #krate::__private::proxy_wasm::main! {{
            #krate::__private::start::<#ident>();
        }}
    }
}
