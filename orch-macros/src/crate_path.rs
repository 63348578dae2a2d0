//! The path generated code uses to reach orch: `::orch` unless the user writes
//! `crate = path` (the tokio / linkme / serde convention), e.g. `crate = ::orch_core` in
//! code that depends on orch-core directly.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// The root path of the orch facade as seen from the user's crate.
pub(crate) struct CratePath(Option<syn::Path>);

impl CratePath {
    /// `::orch`, or `path` when the user gave one.
    pub(crate) fn new(path: Option<syn::Path>) -> Self {
        Self(path)
    }

    /// `<crate>::__private`, the hidden module every generated path goes through.
    pub(crate) fn private(&self) -> TokenStream {
        quote!(#self::__private)
    }
}

impl ToTokens for CratePath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match &self.0 {
            Some(path) => path.to_tokens(tokens),
            None => tokens.extend(quote!(::orch)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_facade() {
        assert_eq!(
            CratePath::new(None).private().to_string(),
            ":: orch :: __private"
        );
    }

    #[test]
    fn honours_an_override() {
        let path: syn::Path = syn::parse_quote!(::orch_core);
        assert_eq!(
            CratePath::new(Some(path)).private().to_string(),
            ":: orch_core :: __private"
        );
    }
}
