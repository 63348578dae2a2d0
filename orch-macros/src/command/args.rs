//! The arguments of `#[orch_command(...)]`: `name`, `timeout`, `retries`, `output`,
//! `target` and `crate`, each optional and each given at most once.

use proc_macro2::TokenStream;
use syn::parse::ParseStream;

use crate::arg_list::{self, Key};
use crate::duration;
use crate::errors::Errors;

/// Every key `#[orch_command]` accepts, in the order error messages list them.
static KEYS: &[Key] = &[
    Key {
        name: "name",
        example: r#"name = "send_email""#,
    },
    Key {
        name: "timeout",
        example: r#"timeout = "30s""#,
    },
    Key {
        name: "retries",
        example: "retries = 5",
    },
    Key {
        name: "output",
        example: "output = MyOutput",
    },
    Key {
        name: "target",
        example: r#"target = "email-worker""#,
    },
    Key {
        name: "crate",
        example: "crate = ::orch",
    },
];

/// The validated arguments of one `#[orch_command]`; `None` means "not given" (or given
/// with an invalid value, which has been reported).
#[derive(Default)]
pub(crate) struct CommandArgs {
    /// `name = "..."`: the explicit command name.
    pub(crate) name: Option<syn::LitStr>,
    /// `timeout = "..."`: the attempt timeout in milliseconds.
    pub(crate) timeout_millis: Option<u64>,
    /// `retries = N`.
    pub(crate) retries: Option<u32>,
    /// `output = Type`.
    pub(crate) output: Option<syn::Type>,
    /// `target = "..."`.
    pub(crate) target: Option<syn::LitStr>,
    /// `crate = path`.
    pub(crate) krate: Option<syn::Path>,
    /// Whether an `impl Command` can still be emitted after errors: false when `output` or
    /// `crate` is unknown, since guessing either would cause errors of its own.
    pub(crate) recoverable: bool,
}

impl CommandArgs {
    /// Parses and validates the attribute's tokens, reporting problems to `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let parsed = arg_list::parse(tokens, KEYS, errors, |key, input| args.set(key, input));
        args.recoverable = parsed.trusts("output") && parsed.trusts("crate");
        args
    }

    /// Reads the value of `key` from `input`.
    fn set(&mut self, key: &Key, input: ParseStream<'_>) -> syn::Result<()> {
        match key.name {
            "name" => self.name = Some(arg_list::non_empty_str(input, key)?),
            "timeout" => {
                let lit = arg_list::string(input, key)?;
                self.timeout_millis = Some(duration::parse_lit(&lit)?);
            }
            "retries" => self.retries = Some(arg_list::u32_int(input, key)?),
            "output" => self.output = Some(input.parse()?),
            "target" => self.target = Some(arg_list::non_empty_str(input, key)?),
            _ => self.krate = Some(input.parse()?),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens as _, quote};

    fn parse(tokens: TokenStream) -> (CommandArgs, Vec<String>) {
        let mut errors = Errors::new();
        let args = CommandArgs::parse(tokens, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, messages)
    }

    #[test]
    fn all_keys() {
        let (args, messages) = parse(quote!(
            name = "send",
            timeout = "1h30m",
            retries = 5,
            output = std::collections::HashMap<String, u32>,
            target = "email-worker",
            crate = ::orch_core,
        ));
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(args.name.map(|lit| lit.value()).as_deref(), Some("send"));
        assert_eq!(args.timeout_millis, Some(5_400_000));
        assert_eq!(args.retries, Some(5));
        assert_eq!(
            args.output
                .map(|ty| ty.to_token_stream().to_string())
                .as_deref(),
            Some("std :: collections :: HashMap < String , u32 >")
        );
        assert_eq!(
            args.target.map(|lit| lit.value()).as_deref(),
            Some("email-worker")
        );
        assert_eq!(
            args.krate
                .map(|path| path.to_token_stream().to_string())
                .as_deref(),
            Some(":: orch_core")
        );
        assert!(args.recoverable);
    }

    #[test]
    fn no_arguments() {
        let (args, messages) = parse(quote!());
        assert!(messages.is_empty());
        assert!(args.name.is_none() && args.output.is_none() && args.recoverable);
    }

    #[test]
    fn unknown_key_lists_the_valid_ones() {
        let (args, messages) = parse(quote!(foo = 1, retries = 2));
        assert_eq!(
            messages,
            [
                "unknown key `foo`; expected one of: `name`, `timeout`, `retries`, `output`, `target`, `crate`"
            ]
        );
        assert_eq!(args.retries, Some(2));
        assert!(args.recoverable);
    }

    #[test]
    fn bad_duration() {
        let (args, messages) = parse(quote!(timeout = "30x"));
        assert_eq!(
            messages,
            [
                r#"invalid duration `30x`: expected e.g. "30s", "5m", "1h30m" (units: `ms`, `s`, `m`, `h`, `d`)"#
            ]
        );
        assert!(args.timeout_millis.is_none());
        assert!(args.recoverable);
    }

    #[test]
    fn empty_strings() {
        let (_, messages) = parse(quote!(name = "", target = " "));
        assert_eq!(
            messages,
            [
                r#"`name` must not be empty: write `name = "send_email"`"#,
                r#"`target` must not be empty: write `target = "email-worker"`"#,
            ]
        );
    }

    #[test]
    fn bad_output_or_crate_stops_the_impl() {
        let (args, messages) = parse(quote!(output = 5));
        assert_eq!(messages.len(), 1);
        assert!(!args.recoverable);
        let (args, messages) = parse(quote!(crate = "orch"));
        assert_eq!(messages.len(), 1);
        assert!(!args.recoverable);
    }
}
