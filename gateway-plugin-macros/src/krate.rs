//! `crate = path`: where generated code finds the runtime crate, for a
//! renamed dependency (`gw = { package = "gateway-plugin", .. }`) or a
//! company crate that re-exports it, as `#[serde(crate = "..")]` and
//! `#[tokio::main(crate = "..")]` do. Every attribute takes it; the default
//! is `::gateway_plugin`.

use crate::errors::Errors;
use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Meta, Token};

/// The runtime crate's path when no `crate = ..` is given.
pub(crate) fn default_path() -> syn::Path {
    syn::parse_quote!(::gateway_plugin)
}

/// Takes `crate = path` (or `crate = "path"`) out of an attribute's
/// arguments: the path, and the other arguments for the attribute's own
/// parser. Arguments that do not parse as a list are left to that parser,
/// which reports them.
pub(crate) fn split(args: TokenStream, errors: &mut Errors) -> (syn::Path, TokenStream) {
    let Ok(metas) = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args.clone()) else {
        return (default_path(), args);
    };
    let mut path = None;
    let mut rest = Punctuated::<Meta, Token![,]>::new();
    for meta in metas {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("crate") => {
                let parsed = match &nv.value {
                    syn::Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
                    other => {
                        crate::args::lit_str(other).and_then(|lit| lit.parse::<syn::Path>().ok())
                    }
                };
                match parsed {
                    None => errors.at(
                        &nv.value,
                        "`crate` is the path of the gateway-plugin crate: `crate = my_gw` or `crate = \"my_company::gateway\"`",
                    ),
                    Some(_) if path.is_some() => errors.at(&nv.path, "`crate` is given twice"),
                    Some(p) => path = Some(p),
                }
            }
            _ => rest.push(meta),
        }
    }
    (path.unwrap_or_else(default_path), quote!(#rest))
}

/// The path's tokens, all spanned at `span`: inside `quote_spanned!`, so
/// errors about generated code point where the literal path used to.
pub(crate) fn respan(path: &syn::Path, span: proc_macro2::Span) -> TokenStream {
    fn each(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
        tokens
            .into_iter()
            .map(|mut tree| {
                if let proc_macro2::TokenTree::Group(group) = &tree {
                    let mut inner =
                        proc_macro2::Group::new(group.delimiter(), each(group.stream(), span));
                    inner.set_span(span);
                    tree = proc_macro2::TokenTree::Group(inner);
                } else {
                    tree.set_span(span);
                }
                tree
            })
            .collect()
    }
    each(quote!(#path), span)
}
