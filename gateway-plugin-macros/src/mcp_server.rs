//! `#[mcp_server(name = "..", version = "..", tools = [..])]` on a plugin's
//! config type: implements `McpServer` (its info, its tools in order, a
//! configured REST server with `rest = field`) and the request phases that
//! serve MCP. Two tools with one name are a
//! compile error: the same path twice at the second one, the same name
//! given twice (`#[mcp_tool(name = ..)]`) by a constant check naming both.

use crate::errors::{with_item, Errors};
use crate::krate;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Meta};

/// The attribute's arguments, parsed.
#[derive(Default)]
struct ServerArgs {
    name: Option<String>,
    version: Option<String>,
    instructions: Option<String>,
    tools: Vec<syn::Path>,
    allow_tools: Option<syn::Ident>,
    rest: Option<syn::Ident>,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (krate, rest) = krate::split(args, &mut errors);
    let parsed = parse_args(rest, &mut errors);
    let ident = match syn::parse2::<syn::DeriveInput>(item.clone()) {
        Ok(input) => {
            if !input.generics.params.is_empty() {
                errors.at(&input.generics, "an MCP server's config cannot be generic");
            }
            Some(input.ident)
        }
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "`#[mcp_server]` goes on the plugin's config type (with `#[plugin]`)",
            ));
            None
        }
    };
    if parsed.name.is_none() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "an MCP server declares its name: `#[mcp_server(name = \"weather\", version = \"1.0.0\", tools = [..])]`",
        ));
    }
    if parsed.version.is_none() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "an MCP server declares its version: `version = \"1.0.0\"`",
        ));
    }
    match (errors.finish(), ident) {
        (Ok(()), Some(ident)) => {
            let mut out = item;
            out.extend(generate(&krate, &ident, &parsed));
            out
        }
        (Err(error), _) => with_item(error, item),
        (Ok(()), None) => item,
    }
}

fn string(expr: &Expr, key: &str, errors: &mut Errors) -> Option<String> {
    let value = crate::args::lit_str(expr).map(syn::LitStr::value);
    if value.is_none() {
        errors.at(expr, format!("`{key}` is a string"));
    }
    value
}

fn parse_args(args: TokenStream, errors: &mut Errors) -> ServerArgs {
    let mut parsed = ServerArgs::default();
    let Some(metas) = crate::args::metas(args, errors) else {
        return parsed;
    };
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            errors.at(&meta, "expected `key = value`");
            continue;
        };
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "name" => parsed.name = string(&nv.value, "name", errors),
            "version" => parsed.version = string(&nv.value, "version", errors),
            "instructions" => parsed.instructions = string(&nv.value, "instructions", errors),
            "tools" => parsed.tools = tool_list(&nv.value, errors),
            "allow_tools" => match &nv.value {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    parsed.allow_tools = p.path.get_ident().cloned()
                }
                other => errors.at(
                    other,
                    "`allow_tools` names the config's field (an `Option<Vec<String>>`): `allow_tools = allow_tools`",
                ),
            },
            "rest" => match &nv.value {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    parsed.rest = p.path.get_ident().cloned()
                }
                other => errors.at(
                    other,
                    "`rest` names the config's field (a `RestServer`): `rest = rest`",
                ),
            },
            _ => errors.at(
                &nv.path,
                "`#[mcp_server]` takes `name`, `version`, `tools`, `instructions`, `allow_tools`, `rest` and `crate`",
            ),
        }
    }
    parsed
}

/// `[a, b::c]`: the tools' paths, each once.
fn tool_list(expr: &Expr, errors: &mut Errors) -> Vec<syn::Path> {
    let Expr::Array(array) = expr else {
        errors.at(
            expr,
            "`tools` lists the tool functions: `tools = [get_weather, get_forecast]`",
        );
        return Vec::new();
    };
    let mut tools: Vec<syn::Path> = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Path(p) if p.qself.is_none() => {
                let last = |path: &syn::Path| path.segments.last().map(|s| s.ident.to_string());
                if tools.iter().any(|seen| last(seen) == last(&p.path)) {
                    errors.at(p, "this tool is listed twice");
                } else {
                    tools.push(p.path.clone());
                }
            }
            other => errors.at(other, "a tool is named by its function's path"),
        }
    }
    tools
}

fn generate(krate: &syn::Path, ident: &syn::Ident, args: &ServerArgs) -> TokenStream {
    let private = quote!(#krate::__private);
    let name = args.name.as_deref().unwrap_or_default();
    let version = args.version.as_deref().unwrap_or_default();
    let instructions = match &args.instructions {
        Some(text) => quote!(::std::option::Option::Some(#text)),
        None => quote!(::std::option::Option::None),
    };
    let tool = |path: &syn::Path| {
        let k = krate::respan(krate, path.span());
        quote_spanned!(path.span()=> <#path as #k::__private::mcp::McpTool<#ident>>::TOOL)
    };
    let tools: Vec<TokenStream> = args.tools.iter().map(tool).collect();
    let mut duplicates = Vec::new();
    for (i, a) in args.tools.iter().enumerate() {
        for b in &args.tools[i + 1..] {
            let message = format!(
                "two tools of `{ident}` have the same name: `{}` and `{}`",
                quote!(#a).to_string().replace(' ', ""),
                quote!(#b).to_string().replace(' ', "")
            );
            let (ta, tb) = (tool(a), tool(b));
            duplicates.push(quote_spanned! {b.span()=>
                ::std::assert!(!#private::mcp::same_name(#ta.name, #tb.name), #message);
            });
        }
    }
    let allow_tools = match (&args.allow_tools, &args.rest) {
        (Some(field), _) => Some(quote! {
            fn allow_tools(&self) -> ::std::option::Option<&[::std::string::String]> {
                self.#field.as_deref()
            }
        }),
        // A REST server's own `allowTools` (through `rest()`, so a field of
        // the wrong type is one error, there).
        (None, Some(_)) => Some(quote! {
            fn allow_tools(&self) -> ::std::option::Option<&[::std::string::String]> {
                #private::mcp::McpServer::rest(self).and_then(#krate::mcp::RestServer::allow_tools)
            }
        }),
        (None, None) => None,
    };
    let rest = args.rest.as_ref().map(|field| {
        quote_spanned! {field.span()=>
            fn rest(&self) -> ::std::option::Option<&#krate::mcp::RestServer> {
                ::std::option::Option::Some(&self.#field)
            }
            const HAS_REST: bool = true;
        }
    });
    quote! {
        impl #private::mcp::McpServer for #ident {
            const SERVER_NAME: &'static str = #name;
            const SERVER_VERSION: &'static str = #version;
            const INSTRUCTIONS: ::std::option::Option<&'static str> = #instructions;
            const TOOLS: &'static [#private::mcp::Tool<Self>] = &[#(#tools),*];
            #allow_tools
            #rest
        }
        const _: () = { #(#duplicates)* };
        impl #private::OnRequestHeaders for #ident {
            const HANDLER: #private::HeadersHandler<Self> =
                #private::HeadersHandler::Sync(#private::mcp::on_request_headers::<#ident>);
        }
        impl #private::OnRequestBody for #ident {
            const HANDLER: #private::BodyHandler<Self> =
                #private::BodyHandler::Async(#private::mcp::on_request_body::<#ident>);
            // An MCP request is answered here: its headers must not reach
            // the upstream while its body is read (one that answers early
            // would answer the client).
            const HOLD_HEADERS: bool = true;
        }
    }
}
