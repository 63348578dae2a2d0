//! `#[orch_handler]`: emits an `impl Handler<C> for H` block unchanged plus one
//! `inventory::submit!` registering `H` (built with `H::default()`) as the handler of `C`.
//!
//! Stages: [`parse_args`] reads the optional `crate = path`, [`validate_item`] finds the
//! command and handler types in the impl header, and [`registration`] writes the
//! `submit!`. `inventory::submit!` is reached through `<crate>::__private::inventory`; it
//! names its own items with `$crate`, so it works through that re-export.

use proc_macro2::TokenStream;
use quote::{ToTokens as _, quote};
use syn::{GenericArgument, Item, PathArguments, Type};

use crate::arg_list::{self, Key};
use crate::crate_path::CratePath;
use crate::errors::{Errors, Failure};

/// The only key `#[orch_handler]` accepts.
static KEYS: &[Key] = &[Key {
    name: "crate",
    example: "crate = ::orch",
}];

/// The command and handler types of a valid `impl Handler<C> for H`.
struct HandlerImpl {
    command: Type,
    handler: Type,
}

/// Expands `#[orch_handler(args)] item`. On error the item is still emitted, without the
/// registration.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> Result<TokenStream, Failure> {
    let mut errors = Errors::new();
    let krate = parse_args(args, &mut errors);
    let found = validate_item(item.clone(), &mut errors);
    match (errors.finish(), found) {
        (Ok(()), Some(found)) => {
            let mut output = item;
            output.extend(registration(&krate, &found));
            Ok(output)
        }
        (Err(error), _) => Err(Failure::new(item, error)),
        // `validate_item` reports an error whenever it finds nothing.
        (Ok(()), None) => Ok(item),
    }
}

/// Reads `crate = path`, the only argument.
fn parse_args(args: TokenStream, errors: &mut Errors) -> CratePath {
    let mut krate = None;
    arg_list::parse(args, KEYS, errors, |_, input| {
        krate = Some(input.parse()?);
        Ok(())
    });
    CratePath::new(krate)
}

/// The types of `impl Handler<C> for H`, or errors saying what to write instead.
fn validate_item(item: TokenStream, errors: &mut Errors) -> Option<HandlerImpl> {
    let item = match syn::parse2::<Item>(item) {
        Ok(Item::Impl(item)) => item,
        Ok(other) => {
            errors.spanned(item_head(&other), not_an_impl(&other));
            return None;
        }
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let handler = handler_name(&item.self_ty);
    let Some((negative, path, _)) = &item.trait_ else {
        let (token, self_ty) = (item.impl_token, &item.self_ty);
        errors.spanned(
            quote!(#token #self_ty),
            format_args!(
                "`#[orch_handler]` goes on an implementation of `Handler`, not on an inherent \
                 impl: write `impl Handler<YourCommand> for {handler}`"
            ),
        );
        return None;
    };
    if negative.is_some() {
        errors.spanned(
            quote!(#negative #path),
            "`#[orch_handler]` cannot register a negative impl",
        );
        return None;
    }
    let command = command_type(path, &handler, errors)?;
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        let (generics, where_clause) = (&item.generics, &item.generics.where_clause);
        errors.spanned(
            quote!(#generics #where_clause),
            "`#[orch_handler]` cannot register a generic impl: registration needs one \
             concrete handler type; write one impl per type, or register the handler on the \
             engine builder instead",
        );
        return None;
    }
    Some(HandlerImpl {
        command,
        handler: (*item.self_ty).clone(),
    })
}

/// `C` in the trait path `Handler<C>` (or `some::path::Handler<C>`).
fn command_type(path: &syn::Path, handler: &str, errors: &mut Errors) -> Option<Type> {
    let segment = path.segments.last()?;
    if segment.ident != "Handler" {
        let trait_name = &segment.ident;
        errors.spanned(
            path,
            format_args!(
                "`#[orch_handler]` registers implementations of `Handler`, not `{trait_name}`: \
                 write `impl Handler<YourCommand> for {handler}`"
            ),
        );
        return None;
    }
    let types: Vec<&Type> = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match types.as_slice() {
        [command] => Some((*command).clone()),
        _ => {
            errors.spanned(
                path,
                format_args!(
                    "`Handler` takes the command type it runs: write \
                     `impl Handler<YourCommand> for {handler}`"
                ),
            );
            None
        }
    }
}

/// The handler type as shown in messages: its name when it is a plain path.
fn handler_name(self_ty: &Type) -> String {
    match self_ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map_or_else(|| "YourHandler".to_owned(), |s| s.ident.to_string()),
        _ => "YourHandler".to_owned(),
    }
}

/// Tokens to point at when the attribute is on something other than an impl block.
fn item_head(item: &Item) -> TokenStream {
    match item {
        Item::Struct(item) => {
            let (token, ident) = (item.struct_token, &item.ident);
            quote!(#token #ident)
        }
        Item::Enum(item) => {
            let (token, ident) = (item.enum_token, &item.ident);
            quote!(#token #ident)
        }
        Item::Fn(item) => {
            let (token, ident) = (item.sig.fn_token, &item.sig.ident);
            quote!(#token #ident)
        }
        Item::Trait(item) => {
            let (token, ident) = (item.trait_token, &item.ident);
            quote!(#token #ident)
        }
        other => other.to_token_stream(),
    }
}

/// The message for an attribute on something other than an impl block.
fn not_an_impl(item: &Item) -> String {
    const WANTED: &str = "`#[orch_handler]` goes on an `impl Handler<YourCommand> for …` block";
    match item {
        Item::Struct(syn::ItemStruct { ident, .. }) | Item::Enum(syn::ItemEnum { ident, .. }) => {
            format!(
                "{WANTED}, not on a type definition: move it to \
                 `impl Handler<YourCommand> for {ident}` (a command type takes \
                 `#[orch_command]` instead)"
            )
        }
        Item::Fn(_) => format!(
            "{WANTED}, not on a function: handlers are types, e.g. \
             `#[derive(Default)] struct YourHandler;` with \
             `#[orch_handler] impl Handler<YourCommand> for YourHandler {{ async fn run(..) }}`"
        ),
        _ => WANTED.to_owned(),
    }
}

/// The `inventory::submit!` registering the handler.
fn registration(krate: &CratePath, found: &HandlerImpl) -> TokenStream {
    let private = krate.private();
    let HandlerImpl { command, handler } = found;
    quote! {
        #private::inventory::submit! {
            #private::handler_registration::<#command, #handler>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: TokenStream, item: TokenStream) -> (String, Vec<String>) {
        match expand(args, item) {
            Ok(tokens) => (tokens.to_string(), Vec::new()),
            Err(failure) => (
                failure.recovered.to_string(),
                failure.error.into_iter().map(|e| e.to_string()).collect(),
            ),
        }
    }

    #[test]
    fn registers_the_handler() {
        let (out, errors) = expand_str(
            quote!(crate = ::orch_core),
            quote!(impl orch::Handler<SendEmail> for Mailer {}),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(out.starts_with("impl orch :: Handler < SendEmail > for Mailer { }"));
        assert!(
            out.contains(
                ":: orch_core :: __private :: inventory :: submit ! { :: orch_core :: \
                 __private :: handler_registration :: < SendEmail , Mailer > () }"
            ),
            "{out}"
        );
    }

    #[test]
    fn inherent_impls_are_rejected() {
        let (out, errors) = expand_str(quote!(), quote!(impl Mailer {}));
        assert_eq!(
            errors,
            [
                "`#[orch_handler]` goes on an implementation of `Handler`, not on an inherent \
                 impl: write `impl Handler<YourCommand> for Mailer`"
            ]
        );
        assert_eq!(out, "impl Mailer { }");
    }

    #[test]
    fn other_traits_are_rejected() {
        let (_, errors) = expand_str(quote!(), quote!(impl Clone for Mailer {}));
        assert!(errors[0].contains("not `Clone`"), "{errors:?}");
    }

    #[test]
    fn the_command_type_is_required() {
        let (_, errors) = expand_str(quote!(), quote!(impl Handler for Mailer {}));
        assert!(
            errors[0].contains("`Handler` takes the command type"),
            "{errors:?}"
        );
    }

    #[test]
    fn structs_are_rejected() {
        let (out, errors) = expand_str(
            quote!(),
            quote!(
                struct Mailer;
            ),
        );
        assert_eq!(
            errors,
            [
                "`#[orch_handler]` goes on an `impl Handler<YourCommand> for …` block, not on \
                 a type definition: move it to `impl Handler<YourCommand> for Mailer` (a \
                 command type takes `#[orch_command]` instead)"
            ]
        );
        assert_eq!(out, "struct Mailer ;");
    }

    #[test]
    fn generic_impls_are_rejected() {
        let (_, errors) = expand_str(
            quote!(),
            quote!(
                impl<T> Handler<T> for Mailer {}
            ),
        );
        assert!(errors[0].contains("generic impl"), "{errors:?}");
    }

    #[test]
    fn unknown_arguments_are_rejected() {
        let (_, errors) = expand_str(quote!(name = "x"), quote!(impl Handler<A> for B {}));
        assert_eq!(errors, ["unknown key `name`; expected `crate`"]);
    }
}
