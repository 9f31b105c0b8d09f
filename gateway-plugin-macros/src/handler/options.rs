//! The options of a phase attribute: `streaming`, `binary`, `hold_headers`
//! (the body phases only; the other phases take none).

use super::Phase;
use crate::errors::Errors;
use proc_macro2::TokenStream;

/// The options of a body phase attribute.
#[derive(Default)]
pub(super) struct Options {
    pub(super) streaming: bool,
    pub(super) binary: bool,
    pub(super) hold_headers: bool,
}

/// The options in `args` (what is left after `crate = path`); every
/// problem is reported, and what parsed is kept.
pub(super) fn parse_options(phase: Phase, args: TokenStream, errors: &mut Errors) -> Options {
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
