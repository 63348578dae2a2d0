//! The default command name: the type name without a trailing `Command`, in snake_case.
//!
//! `SendEmailCommand` is `send_email`, `HTTPRequestCommand` is `http_request` and
//! `GenerateReport` is `generate_report`. A type named just `Command` keeps its name
//! (`command`), since stripping the suffix would leave nothing.

use heck::ToSnakeCase;

/// The suffix removed from type names.
const SUFFIX: &str = "Command";

/// The default name of a command type called `type_name` (without any `r#` prefix).
pub(crate) fn default_name(type_name: &str) -> String {
    let stem = match type_name.strip_suffix(SUFFIX) {
        Some(stem) if !stem.is_empty() => stem,
        _ => type_name,
    };
    stem.to_snake_case()
}

#[cfg(test)]
mod tests {
    use super::default_name;

    #[test]
    fn strips_the_suffix() {
        assert_eq!(default_name("SendEmailCommand"), "send_email");
        assert_eq!(default_name("PingCommand"), "ping");
    }

    #[test]
    fn keeps_names_without_the_suffix() {
        assert_eq!(default_name("GenerateReport"), "generate_report");
        assert_eq!(default_name("Ping"), "ping");
    }

    #[test]
    fn acronyms_are_one_word() {
        assert_eq!(default_name("HTTPRequestCommand"), "http_request");
        assert_eq!(default_name("SendHTTPRequest"), "send_http_request");
    }

    #[test]
    fn command_alone_stays() {
        assert_eq!(default_name("Command"), "command");
    }

    #[test]
    fn only_one_trailing_suffix_is_removed() {
        assert_eq!(default_name("CommandCommand"), "command");
        assert_eq!(default_name("RunCommandCommand"), "run_command");
        assert_eq!(default_name("CommandRunner"), "command_runner");
        assert_eq!(default_name("Commands"), "commands");
    }

    #[test]
    fn digits_stay_with_their_word() {
        assert_eq!(default_name("Resize2xCommand"), "resize2x");
        assert_eq!(default_name("Base64EncodeCommand"), "base64_encode");
        assert_eq!(default_name("V2Command"), "v2");
    }

    #[test]
    fn snake_case_types_pass_through() {
        assert_eq!(default_name("already_snake"), "already_snake");
    }
}
