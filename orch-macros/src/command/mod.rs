//! `#[orch_command]`: emits the struct or enum unchanged plus `impl Command` for it.
//!
//! Stages: [`args`] parses and validates the attribute's arguments, [`validate_item`]
//! checks the annotated item (a non-generic struct or enum), and [`impl_command`] writes
//! the `impl`. The default name comes from [`name`].

mod args;
mod name;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt as _;
use syn::{Generics, Ident, Item};

use self::args::CommandArgs;
use crate::crate_path::CratePath;
use crate::errors::{Errors, Failure};

/// Expands `#[orch_command(args)] item`.
///
/// On error the item is still emitted, and so is the `impl Command` whenever it can be
/// built from the valid arguments, so that code using the type keeps compiling.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> Result<TokenStream, Failure> {
    let mut errors = Errors::new();
    let args = CommandArgs::parse(args, &mut errors);
    let ident = validate_item(item.clone(), &mut errors);
    let mut output = item;
    if let Some(ident) = ident.filter(|_| args.recoverable) {
        output.extend(impl_command(&ident, args));
    }
    match errors.finish() {
        Ok(()) => Ok(output),
        Err(error) => Err(Failure::new(output, error)),
    }
}

/// Checks that `item` is a struct or an enum without generics, returning its name.
fn validate_item(item: TokenStream, errors: &mut Errors) -> Option<Ident> {
    const HINT: &str = "`#[orch_command]` goes on a struct or an enum holding the command's \
                        input";
    let item = match syn::parse2::<Item>(item) {
        Ok(item) => item,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let (ident, generics) = match item {
        Item::Struct(item) => (item.ident, item.generics),
        Item::Enum(item) => (item.ident, item.generics),
        Item::Union(item) => {
            let (token, ident) = (item.union_token, &item.ident);
            errors.spanned(
                quote!(#token #ident),
                format_args!("{HINT}; unions are not supported"),
            );
            return None;
        }
        Item::Fn(item) => {
            let (token, ident) = (item.sig.fn_token, &item.sig.ident);
            errors.spanned(
                quote!(#token #ident),
                format_args!(
                    "{HINT}, not on a function; the code that runs a command goes in \
                     `#[orch_handler] impl Handler<YourCommand> for YourHandler`"
                ),
            );
            return None;
        }
        Item::Impl(item) => {
            let (token, self_ty) = (item.impl_token, &item.self_ty);
            errors.spanned(
                quote!(#token #self_ty),
                format_args!("{HINT}, not on an impl block; did you mean `#[orch_handler]`?"),
            );
            return None;
        }
        other => {
            errors.spanned(other, HINT);
            return None;
        }
    };
    if has_generics(&generics) {
        let where_clause = &generics.where_clause;
        errors.spanned(
            quote!(#generics #where_clause),
            format_args!(
                "`#[orch_command]` does not support generic types: remove the parameters \
                 from `{ident}` (a command name, stored with each row, stands for one \
                 concrete type)"
            ),
        );
        return None;
    }
    Some(ident)
}

fn has_generics(generics: &Generics) -> bool {
    !generics.params.is_empty() || generics.where_clause.is_some()
}

/// `impl Command for #ident { … }`.
fn impl_command(ident: &Ident, args: CommandArgs) -> TokenStream {
    let krate = CratePath::new(args.krate);
    let private = krate.private();
    let name = args.name.unwrap_or_else(|| {
        syn::LitStr::new(
            &name::default_name(&ident.unraw().to_string()),
            ident.span(),
        )
    });
    let timeout = match args.timeout_millis {
        Some(millis) => {
            let millis = proc_macro2::Literal::u64_unsuffixed(millis);
            quote!(::core::option::Option::Some(#private::duration_from_millis(#millis)))
        }
        None => quote!(::core::option::Option::None),
    };
    let retries = match args.retries {
        Some(retries) => {
            let retries = proc_macro2::Literal::u32_unsuffixed(retries);
            quote!(::core::option::Option::Some(#retries))
        }
        None => quote!(::core::option::Option::None),
    };
    let target = match args.target {
        Some(target) => quote!(::core::option::Option::Some(#target)),
        None => quote!(::core::option::Option::None),
    };
    let output = match args.output {
        Some(output) => quote!(#output),
        None => quote!(()),
    };
    quote! {
        impl #private::Command for #ident {
            const NAME: &'static str = #name;
            const TIMEOUT: ::core::option::Option<::core::time::Duration> = #timeout;
            const RETRIES: ::core::option::Option<u32> = #retries;
            const TARGET: ::core::option::Option<&'static str> = #target;
            type Output = #output;

            fn follow_ups(
                &self,
                event: #private::ChainEvent<'_, Self::Output>,
            ) -> #private::FollowUps {
                #[allow(unused_imports)]
                use #private::{ViaChain as _, ViaNoChain as _};
                (&#private::ChainProbe::<Self>::new()).__orch_follow_ups(self, event)
            }

            fn has_chain() -> bool {
                #[allow(unused_imports)]
                use #private::{ViaChain as _, ViaNoChain as _};
                (&#private::ChainProbe::<Self>::new()).__orch_has_chain()
            }
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
    fn emits_item_and_impl() {
        let (out, errors) = expand_str(
            quote!(timeout = "2s", retries = 3),
            quote!(
                struct SendEmailCommand {
                    to: String,
                }
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            out.starts_with("struct SendEmailCommand { to : String , }"),
            "{out}"
        );
        assert!(out.contains("impl :: orch :: __private :: Command for SendEmailCommand"));
        assert!(
            out.contains("const NAME : & 'static str = \"send_email\""),
            "{out}"
        );
        assert!(out.contains("duration_from_millis (2000)"), "{out}");
        assert!(out.contains("Some (3)"), "{out}");
        assert!(out.contains("type Output = () ;"), "{out}");
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let (out, _) = expand_str(
            quote!(),
            quote!(
                enum r#Match {}
            ),
        );
        assert!(out.contains("\"match\""), "{out}");
    }

    #[test]
    fn argument_errors_keep_the_impl() {
        let (out, errors) = expand_str(
            quote!(foo = 1),
            quote!(
                struct Ping;
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(out.contains("struct Ping ;"), "{out}");
        assert!(out.contains("Command for Ping"), "{out}");
    }

    #[test]
    fn a_bad_crate_path_drops_the_impl() {
        let (out, errors) = expand_str(
            quote!(crate = 1),
            quote!(
                struct Ping;
            ),
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(out, "struct Ping ;");
    }

    #[test]
    fn generics_are_rejected() {
        let (out, errors) = expand_str(
            quote!(),
            quote!(
                struct Wrap<T>(T);
            ),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("does not support generic types"));
        assert_eq!(out, "struct Wrap < T > (T) ;");
        let (_, errors) = expand_str(
            quote!(),
            quote!(
                struct Bounded
                where
                    u8: Copy;
            ),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn functions_are_rejected_with_a_hint() {
        let (out, errors) = expand_str(
            quote!(),
            quote!(
                fn send() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("orch_handler"), "{errors:?}");
        assert_eq!(out, "fn send () { }");
    }

    #[test]
    fn every_error_is_reported() {
        let (_, errors) = expand_str(
            quote!(name = "", timeout = "0s", name = "x"),
            quote!(
                struct Wrap<T>(T);
            ),
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
