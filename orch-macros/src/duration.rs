//! Human duration literals for `timeout = "…"`: one or more `<integer><unit>` parts with
//! units `ms`, `s`, `m`, `h` and `d`, such as `"30s"`, `"5m"` or `"1h30m"`, read into whole
//! milliseconds at compile time.

use std::fmt;

/// Why a duration literal was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not a sequence of `<integer><unit>` parts with a known unit.
    Malformed,
    /// The parts add up to zero: an attempt could never run.
    Zero,
    /// More milliseconds than fit in a `u64`.
    TooLarge,
}

impl DurationError {
    /// The message shown to the user for `input`.
    pub(crate) fn message(self, input: &str) -> String {
        Message { input, error: self }.to_string()
    }
}

struct Message<'a> {
    input: &'a str,
    error: DurationError,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration `{}`: ", self.input)?;
        match self.error {
            DurationError::Malformed => {
                f.write_str(r#"expected e.g. "30s", "5m", "1h30m""#)?;
                f.write_str(" (units: `ms`, `s`, `m`, `h`, `d`)")
            }
            DurationError::Zero => f.write_str(r#"must be longer than zero, e.g. "30s""#),
            DurationError::TooLarge => f.write_str("too large"),
        }
    }
}

/// Milliseconds in one `unit`, or `None` for an unknown unit.
fn unit_millis(unit: &str) -> Option<u64> {
    match unit {
        "ms" => Some(1),
        "s" => Some(1_000),
        "m" => Some(60 * 1_000),
        "h" => Some(60 * 60 * 1_000),
        "d" => Some(24 * 60 * 60 * 1_000),
        _ => None,
    }
}

/// Reads `input` as a positive number of milliseconds.
///
/// Parts may be separated by spaces (`"1h 30m"`); each part is an unsigned integer
/// followed directly by its unit.
pub(crate) fn parse_millis(input: &str) -> Result<u64, DurationError> {
    let mut rest = input.trim_start();
    if rest.is_empty() {
        return Err(DurationError::Malformed);
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_end);
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        if digits.is_empty() {
            return Err(DurationError::Malformed);
        }
        let per_unit = unit_millis(unit).ok_or(DurationError::Malformed)?;
        let count: u64 = digits.parse().map_err(|_| DurationError::TooLarge)?;
        total = count
            .checked_mul(per_unit)
            .and_then(|part| total.checked_add(part))
            .ok_or(DurationError::TooLarge)?;
        rest = after.trim_start();
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    Ok(total)
}

/// Reads a string literal as a duration, with the error spanned on the literal.
pub(crate) fn parse_lit(lit: &syn::LitStr) -> syn::Result<u64> {
    let input = lit.value();
    parse_millis(&input).map_err(|error| syn::Error::new_spanned(lit, error.message(&input)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_units() {
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("2h"), Ok(7_200_000));
        assert_eq!(parse_millis("1d"), Ok(86_400_000));
    }

    #[test]
    fn compound_durations_add_up() {
        assert_eq!(parse_millis("1h30m"), Ok(5_400_000));
        assert_eq!(parse_millis("1m30s500ms"), Ok(90_500));
        assert_eq!(parse_millis("1h 30m"), Ok(5_400_000));
    }

    #[test]
    fn milliseconds_are_not_minutes() {
        assert_eq!(parse_millis("5ms"), Ok(5));
        assert_eq!(parse_millis("5m"), Ok(300_000));
    }

    #[test]
    fn malformed_inputs() {
        for input in [
            "",
            " ",
            "30",
            "30x",
            "s",
            "1.5h",
            "-5s",
            "5 s",
            "5S",
            "1h30",
            "h1",
            "30 seconds",
        ] {
            assert_eq!(
                parse_millis(input),
                Err(DurationError::Malformed),
                "{input:?}"
            );
        }
    }

    #[test]
    fn zero_is_rejected() {
        assert_eq!(parse_millis("0s"), Err(DurationError::Zero));
        assert_eq!(parse_millis("0h0m"), Err(DurationError::Zero));
    }

    #[test]
    fn overflow_is_rejected() {
        assert_eq!(
            parse_millis("99999999999999999999s"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(
            parse_millis("999999999999999d"),
            Err(DurationError::TooLarge)
        );
    }

    #[test]
    fn messages_quote_the_input() {
        assert_eq!(
            DurationError::Malformed.message("30x"),
            r#"invalid duration `30x`: expected e.g. "30s", "5m", "1h30m" (units: `ms`, `s`, `m`, `h`, `d`)"#
        );
        assert_eq!(
            DurationError::Zero.message("0s"),
            r#"invalid duration `0s`: must be longer than zero, e.g. "30s""#
        );
    }
}
