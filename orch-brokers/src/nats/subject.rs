//! Which subjects a message may be published to.

/// Checks that `subject` is a concrete NATS subject: dot-separated non-empty tokens, no
/// whitespace or control characters, no `*` or `>` wildcard. The error says what is wrong.
pub(super) fn validate(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("the subject is empty".to_owned());
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "subject {subject:?} contains whitespace or a control character"
        ));
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err(format!(
                "subject {subject:?} has an empty token (a leading, trailing or doubled '.')"
            ));
        }
        if token.contains(['*', '>']) {
            return Err(format!(
                "subject {subject:?} contains a wildcard ('*' or '>'): publishes need a concrete subject"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_concrete_subjects() {
        for subject in ["orders", "orders.created", "a.b-c.d_e.42", "ünï.cødé"] {
            assert!(validate(subject).is_ok(), "{subject}");
        }
    }

    #[test]
    fn refuses_bad_subjects_with_a_reason() {
        for (subject, reason) in [
            ("", "empty"),
            ("orders created", "whitespace"),
            ("orders\tcreated", "whitespace"),
            ("orders\u{0}", "control"),
            (".orders", "empty token"),
            ("orders.", "empty token"),
            ("orders..created", "empty token"),
            ("orders.*", "wildcard"),
            ("orders.>", "wildcard"),
            ("orders.a*b", "wildcard"),
        ] {
            let error = validate(subject).expect_err(subject);
            assert!(error.contains(reason), "{subject:?}: {error}");
        }
    }
}
