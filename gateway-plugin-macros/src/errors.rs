//! Error collection, after serde_derive's `Ctxt`: gather every problem, then
//! report them together next to the user's unchanged item.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// An error spanned at `tokens`.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// `Ok(())` if nothing was pushed.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.combined {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// The user's item unchanged, followed by the errors.
pub(crate) fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}
