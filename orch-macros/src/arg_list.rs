//! Parsing of `key = value, …` attribute arguments, shared by both macros.
//!
//! Every key is checked against the macro's list: an unknown key is reported with the
//! full list of valid ones, a repeated key gets its own error, and a key without `= value`
//! is told what to write. After a bad argument the parser skips to the next comma and
//! carries on, so every mistake in one attribute is reported in one compile.

use proc_macro2::TokenTree;
use syn::ext::IdentExt as _;
use syn::parse::discouraged::Speculative as _;
use syn::parse::{ParseStream, Parser as _};
use syn::{Ident, Token};

use crate::errors::Errors;

/// A key a macro accepts, with an example of its use for error messages.
pub(crate) struct Key {
    /// The key as written by the user.
    pub(crate) name: &'static str,
    /// A complete example argument, e.g. `timeout = "30s"`.
    pub(crate) example: &'static str,
}

/// What parsing left undecided: keys whose value was rejected, and whether parsing had to
/// stop before the end.
#[derive(Default)]
pub(crate) struct Parsed {
    rejected: Vec<&'static str>,
    truncated: bool,
}

impl Parsed {
    /// Whether `key` is known to be either absent or valid, so its value (or its default)
    /// can be used to keep expanding after an error elsewhere.
    pub(crate) fn trusts(&self, key: &str) -> bool {
        !self.truncated && !self.rejected.contains(&key)
    }
}

/// Parses `tokens` as `key = value` pairs separated by commas.
///
/// `on_value` is called once per valid, first-seen key with the key's entry and a stream
/// positioned on its value; it parses the value and stores it. Errors go to `errors`.
pub(crate) fn parse(
    tokens: proc_macro2::TokenStream,
    keys: &'static [Key],
    errors: &mut Errors,
    mut on_value: impl FnMut(&'static Key, ParseStream<'_>) -> syn::Result<()>,
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        while !input.is_empty() {
            let ident = input.call(Ident::parse_any)?;
            let found = keys.iter().find(|key| ident == key.name);
            match found {
                None => {
                    errors.spanned(&ident, unknown_key(&ident, keys));
                    skip_value(input)?;
                }
                Some(key) if seen.contains(&key.name) => {
                    errors.spanned(
                        &ident,
                        format_args!(
                            "duplicate key `{ident}`: each key may be given once; keep one `{}`",
                            key.example
                        ),
                    );
                    parsed.rejected.push(key.name);
                    skip_value(input)?;
                }
                Some(key) => {
                    seen.push(key.name);
                    if !input.peek(Token![=]) {
                        errors.spanned(
                            &ident,
                            format_args!("`{ident}` needs a value: write `{}`", key.example),
                        );
                        parsed.rejected.push(key.name);
                        skip_value(input)?;
                    } else {
                        input.parse::<Token![=]>()?;
                        let fork = input.fork();
                        let result = on_value(key, &fork).and_then(|()| {
                            if fork.is_empty() || fork.peek(Token![,]) {
                                Ok(())
                            } else {
                                Err(fork.error(format_args!(
                                    "unexpected tokens after the value of `{ident}`: write `{}`",
                                    key.example
                                )))
                            }
                        });
                        match result {
                            Ok(()) => input.advance_to(&fork),
                            Err(error) => {
                                errors.push(error);
                                parsed.rejected.push(key.name);
                                skip_value(input)?;
                            }
                        }
                    }
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
        parsed.truncated = true;
    }
    parsed
}

/// Skips the rest of one argument: everything up to the next top-level comma.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// "unknown key `foo`; expected one of: `name`, `timeout`, …".
fn unknown_key(ident: &Ident, keys: &[Key]) -> String {
    let expected: Vec<String> = keys.iter().map(|key| format!("`{}`", key.name)).collect();
    if let [only] = expected.as_slice() {
        format!("unknown key `{ident}`; expected {only}")
    } else {
        format!(
            "unknown key `{ident}`; expected one of: {}",
            expected.join(", ")
        )
    }
}

/// Reads a value that must be a non-empty string literal.
pub(crate) fn non_empty_str(input: ParseStream<'_>, key: &Key) -> syn::Result<syn::LitStr> {
    let lit = string(input, key)?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(
            &lit,
            format_args!("`{}` must not be empty: write `{}`", key.name, key.example),
        ));
    }
    Ok(lit)
}

/// Reads a value that must be a string literal.
pub(crate) fn string(input: ParseStream<'_>, key: &Key) -> syn::Result<syn::LitStr> {
    match input.parse::<syn::Expr>()? {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format_args!(
                "`{}` expects a string literal: write `{}`",
                key.name, key.example
            ),
        )),
    }
}

/// Reads a value that must be an integer literal fitting a `u32`.
pub(crate) fn u32_int(input: ParseStream<'_>, key: &Key) -> syn::Result<u32> {
    match input.parse::<syn::Expr>()? {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => lit.base10_parse::<u32>().map_err(|_| {
            syn::Error::new_spanned(
                &lit,
                format_args!(
                    "`{}` must be a whole number from 0 to {}: write `{}`",
                    key.name,
                    u32::MAX,
                    key.example
                ),
            )
        }),
        other => Err(syn::Error::new_spanned(
            other,
            format_args!(
                "`{}` expects an integer literal: write `{}`",
                key.name, key.example
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    static KEYS: &[Key] = &[
        Key {
            name: "name",
            example: r#"name = "x""#,
        },
        Key {
            name: "retries",
            example: "retries = 3",
        },
    ];

    fn run(tokens: proc_macro2::TokenStream) -> (Vec<String>, Vec<String>, Parsed) {
        let mut errors = Errors::new();
        let mut values = Vec::new();
        let parsed = parse(tokens, KEYS, &mut errors, |key, input| {
            let value = match key.name {
                "name" => non_empty_str(input, key)?.value(),
                _ => u32_int(input, key)?.to_string(),
            };
            values.push(format!("{}={value}", key.name));
            Ok(())
        });
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (values, messages, parsed)
    }

    #[test]
    fn reads_every_pair() {
        let (values, messages, parsed) = run(quote!(name = "a", retries = 2,));
        assert_eq!(values, ["name=a", "retries=2"]);
        assert!(messages.is_empty(), "{messages:?}");
        assert!(parsed.trusts("name") && parsed.trusts("retries"));
    }

    #[test]
    fn empty_input_is_fine() {
        let (values, messages, _) = run(quote!());
        assert!(values.is_empty() && messages.is_empty());
    }

    #[test]
    fn reports_every_mistake_and_keeps_the_rest() {
        let (values, messages, parsed) = run(quote!(
            foo = 1,
            name = "",
            retries = "3",
            name = "b",
            retries = 4
        ));
        assert!(values.is_empty(), "{values:?}");
        assert_eq!(
            messages,
            [
                "unknown key `foo`; expected one of: `name`, `retries`",
                r#"`name` must not be empty: write `name = "x"`"#,
                "`retries` expects an integer literal: write `retries = 3`",
                r#"duplicate key `name`: each key may be given once; keep one `name = "x"`"#,
                "duplicate key `retries`: each key may be given once; keep one `retries = 3`",
            ]
        );
        assert!(!parsed.trusts("name"));
    }

    #[test]
    fn a_key_without_value_is_explained() {
        let (values, messages, _) = run(quote!(name, retries = 1));
        assert_eq!(values, ["retries=1"]);
        assert_eq!(messages, [r#"`name` needs a value: write `name = "x"`"#]);
    }

    #[test]
    fn leftover_tokens_are_reported() {
        let (_, messages, parsed) = run(quote!(retries = 1 2));
        assert_eq!(
            messages,
            ["unexpected tokens after the value of `retries`: write `retries = 3`"]
        );
        assert!(!parsed.trusts("retries"));
    }

    #[test]
    fn out_of_range_integers_are_rejected() {
        let (_, messages, _) = run(quote!(retries = 99999999999));
        assert_eq!(
            messages,
            ["`retries` must be a whole number from 0 to 4294967295: write `retries = 3`"]
        );
    }

    #[test]
    fn broken_syntax_stops_parsing() {
        let (_, messages, parsed) = run(quote!("name" = 1));
        assert_eq!(messages.len(), 1);
        assert!(!parsed.trusts("name"));
    }
}
