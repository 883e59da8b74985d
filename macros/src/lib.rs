//! Attribute macros of dosim: `#[dosim::test]`, which turns an `async fn(World)` into a
//! `#[test]` that runs it over many seeds (see `dosim::testing`), and the attributes of
//! the workers-rs facade (`#[durable_object]`, `#[send]`, `#[event]`), which keep the
//! user's code as it is and add only what the facade needs to run it under dosim.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Item, ItemFn, Lit, MetaNameValue, Token};

/// Runs an `async fn name(world: World)` as a test over many seeds.
///
/// ```ignore
/// #[dosim::test]
/// async fn increments_are_not_lost(world: World) { /* clients call objects */ }
///
/// #[dosim::test(seeds = 200, invariant = no_lost_update, faults = "off")]
/// async fn with_options(world: World) { /* ... */ }
/// ```
///
/// Options: `seeds = N` (how many seeds when neither `DOSIM_SEED`, `DOSIM_SEEDS` nor
/// `DOSIM_TIME` is set), `invariant = path` (a `fn(&RunReport) -> impl Findings`),
/// `faults = "swarm" | "off"`, `with = path` (a `fn(Builder) -> Builder` for anything
/// else). Other attributes on the function (`#[ignore]`, doc comments) are kept.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_test(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

fn expand_test(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let f: ItemFn = syn::parse2(item)?;
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            f.sig.fn_token,
            "#[dosim::test] runs an `async fn name(world: World)`: the workload, inside the simulation",
        ));
    }
    if f.sig.inputs.len() != 1 {
        return Err(syn::Error::new_spanned(
            &f.sig.inputs,
            "#[dosim::test] expects exactly one argument, the run's `World` (`async fn name(world: World)`)",
        ));
    }
    let options = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(attr)?;
    let mut settings = Vec::new();
    for o in &options {
        let key = o.path.get_ident().map(ToString::to_string).unwrap_or_default();
        let value = &o.value;
        settings.push(match key.as_str() {
            "seeds" => quote! { .seeds(#value) },
            "invariant" => quote! { .invariant(#value) },
            "with" => quote! { .with(#value) },
            "faults" => match value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value() == "off" => {
                    quote! { .faults(::dosim::sim::FaultPolicy::Off) }
                }
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value() == "swarm" => {
                    quote! { .faults(::dosim::sim::FaultPolicy::Swarm) }
                }
                _ => return Err(syn::Error::new_spanned(value, "faults is \"swarm\" (the default) or \"off\"")),
            },
            _ => {
                return Err(syn::Error::new_spanned(
                    &o.path,
                    "unknown option: #[dosim::test] takes seeds = N, invariant = path, faults = \"swarm\"|\"off\", with = path",
                ))
            }
        });
    }
    let name = &f.sig.ident;
    let name_text = name.to_string();
    let attrs = &f.attrs;
    let vis = &f.vis;
    let body_name = format_ident!("__dosim_body_{}", name);
    let mut body = f.clone();
    body.sig.ident = body_name.clone();
    body.attrs.clear();
    body.vis = syn::Visibility::Inherited;
    let (features, default) = declared_features()?;
    let feature_pairs = features.iter().map(|f| quote! { (#f, cfg!(feature = #f)) });
    let default_off = if default {
        quote! { !cfg!(feature = "default") }
    } else {
        quote! { false }
    };
    Ok(quote! {
        #[test]
        #(#attrs)*
        #vis fn #name() {
            #body
            ::dosim::testing::Builder::for_test(::dosim::testing::TestSite {
                package: env!("CARGO_PKG_NAME"),
                crate_name: env!("CARGO_CRATE_NAME"),
                bin: option_env!("CARGO_BIN_NAME"),
                manifest_dir: env!("CARGO_MANIFEST_DIR"),
                file: file!(),
                module: module_path!(),
                function: #name_text,
                features: &[#(#feature_pairs),*],
                no_default_features: #default_off,
            })
            #(#settings)*
            .check(#body_name);
        }
    })
}

/// The features the crate being compiled declares (without `default`), and whether it
/// declares `default`: read from its Cargo.toml, so that the generated code can ask
/// `cfg!(feature = ...)` of each and a replay command can name those that were on.
fn declared_features() -> syn::Result<(Vec<String>, bool)> {
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else { return Ok((Vec::new(), false)) };
    let path = std::path::Path::new(&dir).join("Cargo.toml");
    let fail = |why: String| syn::Error::new(proc_macro2::Span::call_site(), why);
    let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let Some(features) = table.get("features").and_then(toml::Value::as_table) else {
        return Ok((Vec::new(), false));
    };
    let names = features.keys().filter(|k| *k != "default").cloned().collect();
    Ok((names, features.contains_key("default")))
}

/// `#[durable_object]` of the workers-rs facade: the item stays as written; on a struct
/// it adds the marker impl the facade's `DurableObject` trait requires (as the real
/// attribute does). Options (`fetch`, `alarm`, `websocket`) are accepted and ignored: the
/// facade routes every handler.
#[proc_macro_attribute]
pub fn durable_object(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.into();
    match syn::parse2::<Item>(item2.clone()) {
        Ok(Item::Struct(s)) => {
            let name = &s.ident;
            let (imp, ty, wh) = s.generics.split_for_impl();
            quote! {
                #s
                impl #imp ::worker::has_durable_object_attribute for #name #ty #wh {}
            }
            .into()
        }
        // Older workers-rs put the attribute on the impl block too: nothing to add there.
        Ok(_) => item2.into(),
        Err(e) => e.into_compile_error().into(),
    }
}

/// `#[worker::send]` of the facade: the function as written (dosim runs on one thread,
/// so there is nothing to make `Send`).
#[proc_macro_attribute]
pub fn send(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// `#[event(fetch)]` and friends of the facade: the handler as written. dosim simulates
/// Durable Objects, not the Worker in front of them; the handler still compiles, and a
/// test may call it.
#[proc_macro_attribute]
pub fn event(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
