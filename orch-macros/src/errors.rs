//! Error accumulation and the fallback expansion used when a macro reports errors.
//!
//! Errors are collected rather than returned at the first problem (serde's `Ctxt`,
//! `syn::Error::combine`), so one compile shows every mistake in an attribute. A failed
//! expansion still emits the user's item unchanged next to the `compile_error!`s (the
//! tokio-macros and thiserror `fallback.rs` pattern): one typo in an argument must not
//! cascade into "type not found" errors wherever the type is used.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collects `syn::Error`s, keeping every message and its span.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// An empty accumulator.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds one error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Adds a new error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// `Ok(())` when no error was added, else every error combined.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.combined {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// An expansion that reported errors: what to emit anyway, plus the errors.
pub(crate) struct Failure {
    /// The tokens still worth emitting: always the original item, and sometimes more (an
    /// `impl` built from the arguments that were valid) so later code keeps compiling.
    pub(crate) recovered: TokenStream,
    /// Every error found, combined.
    pub(crate) error: syn::Error,
}

impl Failure {
    /// A failure that emits `recovered` next to `error`.
    pub(crate) fn new(recovered: TokenStream, error: syn::Error) -> Self {
        Self { recovered, error }
    }

    /// The recovered tokens followed by one `compile_error!` per error.
    pub(crate) fn into_tokens(self) -> TokenStream {
        let mut tokens = self.recovered;
        tokens.extend(self.error.into_compile_error());
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn empty_accumulator_finishes_ok() {
        let errors = Errors::new();
        assert!(errors.finish().is_ok());
    }

    #[test]
    fn keeps_every_error() {
        let mut errors = Errors::new();
        errors.push(syn::Error::new(Span::call_site(), "first"));
        errors.push(syn::Error::new(Span::call_site(), "second"));
        let messages: Vec<String> = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn failure_keeps_the_item() {
        let item: TokenStream = quote::quote!(
            struct Kept;
        );
        let failure = Failure::new(item, syn::Error::new(Span::call_site(), "bad"));
        let out = failure.into_tokens().to_string();
        assert!(out.contains("struct Kept"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }
}
