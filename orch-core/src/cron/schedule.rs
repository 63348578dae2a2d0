//! [`Schedule`]: a cron expression in a time zone, and its fire times.
//!
//! Expressions have 6 fields (seconds first, as the `cron` crate reads them) or the usual
//! 5 (a `0` seconds field is added), or are one of `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`.
//!
//! # Daylight saving time
//! Fire times are wall-clock times in the job's zone, and each wall-clock time fires once:
//! - a time that does not exist (skipped when clocks spring forward) fires at the end of
//!   the gap: `30 2 * * *` in Europe/Paris fires at 03:00 CEST on the last Sunday of March;
//! - a time that happens twice (when clocks fall back) fires at its first occurrence only:
//!   the same job fires at 02:30 CEST, not again at 02:30 CET, on the last Sunday of
//!   October.
//!
//! So an hourly job fires 23 times on the spring day and 24 times on the 25-hour autumn
//! day. Jobs in UTC (the default) have no such days.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::ConfigError;

/// The longest gap a spring-forward can make, searched minute by minute.
const MAX_GAP_MINUTES: i64 = 180;

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: cron::Schedule,
    zone: Tz,
}

impl Schedule {
    /// Parses `expression` in `time_zone` (an IANA name such as `Europe/Paris`, or `UTC`).
    ///
    /// # Errors
    /// The expression or the zone is invalid; the error names which and why.
    ///
    /// # Example
    /// ```
    /// use orch_core::cron::Schedule;
    /// let s = Schedule::parse("*/15 * * * *", "UTC").unwrap(); // 5 fields: seconds = 0
    /// assert_eq!(s.expression(), "0 */15 * * * *");
    /// assert!(Schedule::parse("0 0 25 * * *", "UTC").is_err());  // no hour 25
    /// assert!(Schedule::parse("@daily", "Mars/Olympus").is_err());
    /// ```
    pub fn parse(expression: &str, time_zone: &str) -> Result<Self, ConfigError> {
        let zone = Tz::from_str_insensitive(time_zone.trim()).map_err(|_| {
            ConfigError::invalid(
                "time_zone",
                format!("unknown time zone {time_zone:?}; use an IANA name such as \"Europe/Paris\" or \"UTC\""),
            )
        })?;
        let normalized = normalize(expression)?;
        let cron = cron::Schedule::from_str(&normalized).map_err(|e| {
            let detail = e.to_string();
            let detail = detail.lines().last().unwrap_or_default().trim();
            ConfigError::invalid(
                "schedule",
                format!(
                    "invalid cron expression {expression:?}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
            )
        })?;
        Ok(Self {
            expression: normalized,
            cron,
            zone,
        })
    }

    /// The expression as evaluated (6 or 7 fields).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone's name.
    pub fn time_zone(&self) -> &str {
        self.zone.name()
    }

    /// The first fire time strictly after `after`, or `None` if there is none (a schedule
    /// restricted to past years).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone).naive_local();
        // Wall-clock times, enumerated on a timeline without zone changes.
        let start = Utc.from_utc_datetime(&(local - chrono::Duration::seconds(1)));
        self.cron
            .after(&start)
            .take(10_000)
            .filter_map(|wall| self.instant(wall.naive_utc()))
            .find(|fire| *fire > after)
    }

    /// The instant a wall-clock time fires at (see the module docs).
    fn instant(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => (1..=MAX_GAP_MINUTES).find_map(|m| {
                let later = wall + chrono::Duration::minutes(m);
                let floored = later.date().and_hms_opt(
                    chrono::Timelike::hour(&later),
                    chrono::Timelike::minute(&later),
                    0,
                )?;
                match self.zone.from_local_datetime(&floored) {
                    LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
                    LocalResult::None => None,
                }
            }),
        }
    }
}

/// Adds the seconds field to 5-field expressions and expands the `@` macros.
fn normalize(expression: &str) -> Result<String, ConfigError> {
    let trimmed = expression.trim();
    let expanded = match trimmed.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 0 1 1 *".to_owned(),
        "@monthly" => "0 0 0 1 * *".to_owned(),
        "@weekly" => "0 0 0 * * SUN".to_owned(),
        "@daily" | "@midnight" => "0 0 0 * * *".to_owned(),
        "@hourly" => "0 0 * * * *".to_owned(),
        other if other.starts_with('@') => {
            return Err(ConfigError::invalid(
                "schedule",
                format!(
                    "unknown macro {trimmed:?}; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
                ),
            ));
        }
        _ => {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            match fields.len() {
                5 => format!("0 {}", fields.join(" ")),
                6 | 7 => fields.join(" "),
                n => {
                    return Err(ConfigError::invalid(
                        "schedule",
                        format!(
                            "invalid cron expression {expression:?}: {n} fields; expected 5 (minute hour day month weekday) or 6 (with seconds first)"
                        ),
                    ));
                }
            }
        }
    };
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn fires(s: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut at = from;
        while out.len() < n {
            at = s.next_after(at).unwrap();
            out.push(at);
        }
        out
    }

    #[test]
    fn five_fields_and_macros_normalize() {
        assert_eq!(normalize("*/5 * * * *").unwrap(), "0 */5 * * * *");
        assert_eq!(normalize(" 0 0 2 * * * ").unwrap(), "0 0 2 * * *");
        assert_eq!(normalize("@Daily").unwrap(), "0 0 0 * * *");
        assert!(normalize("@never").is_err());
        assert!(normalize("* * * *").is_err());
        assert!(normalize("").is_err());
    }

    #[test]
    fn bad_expressions_and_zones_name_what_is_wrong() {
        let e = Schedule::parse("0 0 25 * * *", "UTC")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedule") && e.contains("25"), "{e}");
        let e = Schedule::parse("@daily", "Europe/Pariss")
            .unwrap_err()
            .to_string();
        assert!(e.contains("time_zone") && e.contains("Pariss"), "{e}");
        let e = Schedule::parse("1 2 3", "UTC").unwrap_err().to_string();
        assert!(e.contains("3 fields"), "{e}");
    }

    #[test]
    fn utc_fires_on_the_expression() {
        let s = Schedule::parse("*/15 * * * *", "UTC").unwrap();
        assert_eq!(
            fires(&s, utc(2026, 1, 1, 10, 7), 3),
            [
                utc(2026, 1, 1, 10, 15),
                utc(2026, 1, 1, 10, 30),
                utc(2026, 1, 1, 10, 45)
            ]
        );
        let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
        let t = utc(2026, 1, 1, 0, 0);
        assert_eq!(
            every_second.next_after(t),
            Some(t + chrono::Duration::seconds(1))
        );
    }

    #[test]
    fn spring_gap_fires_at_its_end() {
        // Europe/Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let s = Schedule::parse("30 2 * * *", "Europe/Paris").unwrap();
        let got = fires(&s, utc(2026, 3, 27, 12, 0), 3);
        assert_eq!(
            got,
            [
                utc(2026, 3, 28, 1, 30), // 02:30 CET
                utc(2026, 3, 29, 1, 0),  // 02:30 does not exist: 03:00 CEST
                utc(2026, 3, 30, 0, 30), // 02:30 CEST
            ]
        );
        let hourly = Schedule::parse("@hourly", "Europe/Paris").unwrap();
        let day = fires(&hourly, utc(2026, 3, 28, 22, 30), 30)
            .into_iter()
            .filter(|t| {
                t.with_timezone(&Tz::Europe__Paris).date_naive()
                    == chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
            })
            .count();
        assert_eq!(day, 23, "23 fires on the 23-hour day");
    }

    #[test]
    fn autumn_repeat_fires_once() {
        // Europe/Paris, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let s = Schedule::parse("30 2 * * *", "Europe/Paris").unwrap();
        let got = fires(&s, utc(2026, 10, 24, 12, 0), 2);
        assert_eq!(got, [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]);
        // Asked from inside the repeated hour, it does not fire again.
        assert_eq!(
            s.next_after(utc(2026, 10, 25, 1, 10)),
            Some(utc(2026, 10, 26, 1, 30))
        );
        let hourly = Schedule::parse("@hourly", "Europe/Paris").unwrap();
        let day = fires(&hourly, utc(2026, 10, 24, 21, 30), 30)
            .into_iter()
            .filter(|t| {
                t.with_timezone(&Tz::Europe__Paris).date_naive()
                    == chrono::NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
            })
            .count();
        assert_eq!(day, 24, "each wall-clock hour once on the 25-hour day");
    }
}
