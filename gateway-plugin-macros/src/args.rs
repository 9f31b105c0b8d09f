//! Attribute arguments: the `key = value, ..` list every attribute takes,
//! parsed once here, and the string literals their values often are.

use crate::errors::Errors;
use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Meta, Token};

/// The arguments as a list of metas; `None` (the parse error recorded) if
/// they are not one.
pub(crate) fn metas(args: TokenStream, errors: &mut Errors) -> Option<Punctuated<Meta, Token![,]>> {
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => Some(metas),
        Err(err) => {
            errors.push(err);
            None
        }
    }
}

/// The string literal `value` is, if it is one.
pub(crate) fn lit_str(value: &syn::Expr) -> Option<&syn::LitStr> {
    match value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Some(lit),
        _ => None,
    }
}
