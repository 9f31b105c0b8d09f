//! `#[on_tick(period_ms = N)]`: a function the root's timer runs every `N`
//! ms with the global config, `fn(config: &C)` or `async fn(config: &C)`.
//!
//! It implements `gateway_plugin::__private::OnTick<SLOT>` for the config
//! type, at a slot picked by hashing the function's name (so any number of
//! tick handlers up to the runtime's slot count can coexist without the
//! macro knowing of the others); `#[plugin]` probes every slot.

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Meta, ReturnType, Type};

const EXPECTED: &str = "#[on_tick(period_ms = 1000)] fn tick(config: &YourConfig)";

/// Must match `gateway_plugin::tick::SLOTS`.
const SLOTS: u64 = 64;

/// FNV-1a: stable across compilers and runs, unlike `DefaultHasher`.
fn slot_of(name: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % SLOTS) as usize
}

fn parse_period(args: TokenStream, errors: &mut Errors) -> Option<u32> {
    let metas = crate::args::metas(args, errors)?;
    let mut period = None;
    for meta in &metas {
        match meta {
            Meta::NameValue(nv) if nv.path.is_ident("period_ms") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(lit),
                    ..
                }) => match lit.base10_parse::<u32>() {
                    Ok(0) | Err(_) => {
                        errors.at(lit, "`period_ms` is a number of milliseconds, 1 or more")
                    }
                    Ok(ms) => period = Some(ms),
                },
                other => errors.at(other, "`period_ms` is a number: `period_ms = 1000`"),
            },
            other => errors.at(
                other,
                format!("`#[on_tick]` takes only `period_ms`: `{EXPECTED}`"),
            ),
        }
    }
    if period.is_none() && metas.is_empty() {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!("`#[on_tick]` needs its period: `{EXPECTED}`"),
        ));
    }
    period
}

/// `C` of the one `config: &C` argument.
fn config_type(func: &ItemFn, errors: &mut Errors) -> Option<Type> {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(&sig.generics, "a tick handler cannot be generic");
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        let unit = matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
        if !unit {
            errors.at(ty, format!("a tick handler returns nothing: `{EXPECTED}`"));
        }
    }
    match sig.inputs.len() {
        1 => {}
        0 => {
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                format!("a tick handler takes the global config: `{EXPECTED}`"),
            ));
            return None;
        }
        n => {
            errors.at(
                &sig.inputs,
                format!("a tick handler takes 1 argument, not {n}: `{EXPECTED}`"),
            );
            return None;
        }
    }
    match sig.inputs.first() {
        Some(FnArg::Typed(pat)) => match &*pat.ty {
            Type::Reference(r) if r.mutability.is_none() && r.lifetime.is_none() => {
                Some((*r.elem).clone())
            }
            other => {
                errors.at(other, format!("expected `&YourConfig`: `{EXPECTED}`"));
                None
            }
        },
        Some(receiver) => {
            errors.at(
                receiver,
                "a tick handler is a free function, it cannot take `self`",
            );
            None
        }
        None => None,
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (krate, args) = crate::krate::split(args, &mut errors);
    let period = parse_period(args, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!("`#[on_tick]` goes on a function: `{EXPECTED}`"),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let config_ty = config_type(&func, &mut errors);
    if let Err(err) = errors.finish() {
        return with_item(err, item);
    }
    let (Some(period), Some(config_ty)) = (period, config_ty) else {
        unreachable!("a missing period or config type is reported as an error")
    };
    let fn_ident = &func.sig.ident;
    let slot = slot_of(&fn_ident.to_string());
    let private = quote!(#krate::__private);
    let handler = match func.sig.asyncness {
        None => quote_spanned! {fn_ident.span()=> #private::TickHandler::Sync(#fn_ident) },
        // The task owns an `Rc` of the config, so the future is `'static`.
        Some(_) => quote_spanned! {fn_ident.span()=>
            #private::TickHandler::Async(|config| {
                #private::boxed_task(async move {
                    #fn_ident(&config).await;
                    (#private::tick_context(), #krate::Action::Continue)
                })
            })
        },
    };
    let imp = quote_spanned! {config_ty.span()=>
        impl #private::OnTick<#slot> for #config_ty {
            const TICK: #private::Tick<Self> = #private::Tick {
                period_ms: #period,
                handler: #handler,
            };
        }
    };
    quote! {
        #func
        #imp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_spread() {
        assert_eq!(slot_of("every_second"), slot_of("every_second"));
        let slots: std::collections::HashSet<usize> = ["a", "b", "c", "refresh", "report", "poll"]
            .iter()
            .map(|n| slot_of(n))
            .collect();
        assert!(slots.len() >= 5);
        assert!(slots.iter().all(|s| (*s as u64) < SLOTS));
    }
}
