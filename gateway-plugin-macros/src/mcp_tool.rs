//! `#[mcp_tool]`: a function becomes a tool of the MCP server whose config
//! its second argument points at. Parse the signature into typed pieces
//! (one check per argument), then generate the hidden type, named as the
//! function, that implements `McpTool<Config>` (rocket's routes are found
//! the same way), so `#[mcp_server(tools = [name])]` finds it.

use crate::errors::{with_item, Errors};
use crate::krate;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Meta, ReturnType, Type};

/// The most characters a tool name has (MCP 2025-11-25).
const MAX_NAME: usize = 128;

/// A tool function, checked.
struct ToolFn<'a> {
    func: &'a ItemFn,
    name: String,
    description: String,
    config_ty: &'a Type,
    args_ty: &'a Type,
    ret_ty: &'a Type,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[mcp_tool]` goes on a function: `async fn name(call: &mut ToolCall, config: &Config, args: Args) -> ToolResult`",
            );
            return with_item(error, item);
        }
    };
    let mut errors = Errors::default();
    let (krate, rest) = krate::split(args, &mut errors);
    let name_override = parse_args(rest, &mut errors);
    let tool = check(&func, name_override, &mut errors);
    match (errors.finish(), tool) {
        (Ok(()), Some(tool)) => generate(&krate, &tool),
        (Err(error), _) => with_item(error, item),
        (Ok(()), None) => item,
    }
}

/// `name = "..."`, the only argument (besides `crate`).
fn parse_args(args: TokenStream, errors: &mut Errors) -> Option<(String, Span)> {
    if args.is_empty() {
        return None;
    }
    let metas = crate::args::metas(args, errors)?;
    let mut name = None;
    for meta in metas {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("name") => match crate::args::lit_str(&nv.value) {
                Some(lit) => name = Some((lit.value(), lit.span())),
                None => errors.at(&nv.value, "`name` is a string: `name = \"get_weather\"`"),
            },
            other => errors.at(
                other,
                "`#[mcp_tool]` takes `name = \"..\"` (the tool's name, if not the function's) and `crate = path`",
            ),
        }
    }
    name
}

fn check<'a>(
    func: &'a ItemFn,
    name_override: Option<(String, Span)>,
    errors: &mut Errors,
) -> Option<ToolFn<'a>> {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        errors.at(&sig.generics, "an MCP tool cannot be generic");
    }
    let name = match name_override {
        Some((name, span)) => {
            if let Err(why) = valid_name(&name) {
                errors.push(syn::Error::new(span, why));
            }
            name
        }
        None => sig.ident.to_string().trim_start_matches("r#").to_string(),
    };
    let shape = "an MCP tool takes `(call: &mut ToolCall, config: &Config, args: Args)`";
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    let typed = |index: usize| match inputs.get(index) {
        Some(FnArg::Typed(pat)) => Some(&*pat.ty),
        _ => None,
    };
    if let Some(FnArg::Receiver(receiver)) = inputs.first() {
        errors.at(receiver, "an MCP tool is a free function, not a method");
        return None;
    }
    if inputs.len() != 3 {
        if inputs.is_empty() {
            errors.at(&sig.ident, shape);
        } else {
            errors.at(
                &sig.inputs,
                format!("{shape}: it has {} arguments", inputs.len()),
            );
        }
        return None;
    }
    let (call_ty, config_ty, args_ty) = (typed(0)?, typed(1)?, typed(2)?);
    match call_ty {
        Type::Reference(r) if r.mutability.is_some() => {}
        other => errors.at(other, "the first argument is the call: `&mut ToolCall`"),
    }
    let config_ty = match config_ty {
        Type::Reference(r) if r.mutability.is_none() => &*r.elem,
        other => {
            errors.at(
                other,
                "the second argument is the server's config: `&Config`",
            );
            other
        }
    };
    if let Type::Reference(r) = args_ty {
        errors.at(
            r,
            "the arguments are taken by value: a type deriving `Deserialize` and `JsonSchema`",
        );
    }
    let ret_ty = match &sig.output {
        ReturnType::Type(_, ty) => &**ty,
        ReturnType::Default => {
            errors.at(
                sig,
                "an MCP tool returns its result: `ToolResult`, `String`, or `Result<_, E: Display>` of these",
            );
            return None;
        }
    };
    Some(ToolFn {
        func,
        name,
        description: doc_comment(&func.attrs),
        config_ty,
        args_ty,
        ret_ty,
    })
}

/// MCP's tool names: 1 to 128 of `A-Z a-z 0-9 _ - .`.
fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a tool name has 1 to {MAX_NAME} characters"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some(c) => Err(format!(
            "a tool name is letters, digits, `_`, `-` and `.`; not {c:?}"
        )),
        None => Ok(()),
    }
}

/// The doc comment's text: lines joined, the one leading space rustdoc
/// strips removed, blank lines at either end dropped.
fn doc_comment(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => crate::args::lit_str(&nv.value).map(syn::LitStr::value),
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_string()
        })
        .collect();
    lines.join("\n").trim().to_string()
}

fn generate(krate: &syn::Path, tool: &ToolFn) -> TokenStream {
    let func = tool.func;
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let (config_ty, args_ty, ret_ty) = (tool.config_ty, tool.args_ty, tool.ret_ty);
    let (name, description) = (&tool.name, &tool.description);
    let krate_at = |span: Span| krate::respan(krate, span);
    let mcp = {
        let k = krate_at(ident.span());
        quote!(#k::__private::mcp)
    };
    // Errors about the argument and return types point at them; each type
    // is used through one trait, so a wrong type is one error (the two uses
    // give the same diagnostic, which rustc reports once).
    let args_krate = krate_at(args_ty.span());
    let args_trait =
        quote_spanned!(args_ty.span()=> <#args_ty as #args_krate::__private::mcp::ToolArguments>);
    let arguments = quote_spanned!(args_ty.span()=> #args_trait::from_arguments(arguments)?);
    let input_schema = quote_spanned!(args_ty.span()=> #args_trait::input_schema);
    let ret_krate = krate_at(ret_ty.span());
    let ret_trait =
        quote_spanned!(ret_ty.span()=> <#ret_ty as #ret_krate::__private::mcp::IntoToolResult>);
    let convert = quote_spanned!(ret_ty.span()=> #ret_trait::into_tool_result(__out));
    let output_schema = quote_spanned!(ret_ty.span()=> #ret_trait::output_schema);
    let call = if func.sig.asyncness.is_some() {
        quote!(#ident(call, config, args).await)
    } else {
        quote!(#ident(call, config, args))
    };
    quote! {
        #func

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        impl #mcp::McpTool<#config_ty> for #ident {
            const TOOL: #mcp::Tool<#config_ty> = {
                fn __call<'a>(
                    call: &'a mut #mcp::ToolCall,
                    config: &'a #config_ty,
                    arguments: #krate::__private::serde_json::Value,
                ) -> #mcp::ToolFuture<'a> {
                    ::std::boxed::Box::pin(async move {
                        let args = #arguments;
                        let __out = #call;
                        ::std::result::Result::Ok(#convert)
                    })
                }
                #mcp::Tool {
                    name: #name,
                    description: #description,
                    input_schema: #input_schema,
                    output_schema: #output_schema,
                    call: __call,
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("get_weather").is_ok());
        assert!(valid_name("a.b-c_D9").is_ok());
        assert!(valid_name("").is_err());
        assert!(valid_name("has space").is_err());
        assert!(valid_name(&"x".repeat(129)).is_err());
    }

    #[test]
    fn doc_comments() {
        let func: ItemFn = syn::parse_quote! {
            /// Current weather
            /// for a city.
            ///
            fn f() {}
        };
        assert_eq!(doc_comment(&func.attrs), "Current weather\nfor a city.");
    }
}
