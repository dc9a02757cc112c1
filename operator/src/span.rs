//! `--since 24h`: how far back a listing reads, and the days of the index that covers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tourniquet::time::rfc3339;

use crate::failure::Failure;

/// The longest look back: a year and a month of days, one query each.
const MAX_DAYS: u64 = 400;
const DAY_SECS: u64 = 86_400;

/// A look back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(Duration);

impl Span {
    /// `90m`, `24h`, `7d`: a whole number and a unit.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let bad = || {
            Failure::Usage(format!(
                "--since {text:?}: give a whole number of minutes, hours or days, like 90m, 24h \
                 or 7d, up to {MAX_DAYS}d"
            ))
        };
        let Some(unit_at) = text.char_indices().last().map(|(i, _)| i) else {
            return Err(bad());
        };
        let (digits, unit) = text.split_at(unit_at);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let count: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "m" => count.checked_mul(60),
            "h" => count.checked_mul(3_600),
            "d" => count.checked_mul(DAY_SECS),
            _ => None,
        }
        .filter(|s| *s > 0 && *s <= MAX_DAYS * DAY_SECS)
        .ok_or_else(bad)?;
        Ok(Self(Duration::from_secs(secs)))
    }

    /// When the span starts, seen from `now`.
    pub fn start(self, now: SystemTime) -> SystemTime {
        now.checked_sub(self.0).unwrap_or(UNIX_EPOCH)
    }

    /// The UTC days from the span's start to `now`, newest first (`YYYY-MM-DD`).
    pub fn days(self, now: SystemTime) -> Vec<String> {
        let day = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() / DAY_SECS)
                .unwrap_or(0)
        };
        let (first, last) = (day(self.start(now)), day(now));
        (first..=last)
            .rev()
            .map(|d| {
                let midnight = rfc3339(UNIX_EPOCH + Duration::from_secs(d * DAY_SECS));
                tourniquet::history::day_of(&midnight).to_owned()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        let t = aws_smithy_types::DateTime::from_str(
            text,
            aws_smithy_types::date_time::Format::DateTime,
        )
        .expect("a test instant");
        UNIX_EPOCH + Duration::from_secs(u64::try_from(t.secs()).expect("after 1970"))
    }

    #[test]
    fn spans_are_minutes_hours_or_days() {
        assert_eq!(
            Span::parse("90m").ok(),
            Some(Span(Duration::from_secs(5_400)))
        );
        assert_eq!(
            Span::parse("24h").ok(),
            Some(Span(Duration::from_secs(86_400)))
        );
        assert_eq!(
            Span::parse("7d").ok(),
            Some(Span(Duration::from_secs(604_800)))
        );
        for bad in [
            "",
            "h",
            "24",
            "0h",
            "-1h",
            "1.5h",
            "24 h",
            "401d",
            "99999999999999999999d",
            "1w",
            "1é",
            "+1h",
        ] {
            assert!(
                matches!(Span::parse(bad), Err(Failure::Usage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_span_covers_each_day_it_touches_newest_first() {
        let now = at("2026-12-04T05:00:00Z");
        let span = Span::parse("6h").unwrap();
        assert_eq!(span.days(now), ["2026-12-04", "2026-12-03"]);
        assert_eq!(Span::parse("3h").unwrap().days(now), ["2026-12-04"]);
        assert_eq!(Span::parse("2d").unwrap().days(now).len(), 3);
        assert_eq!(rfc3339(span.start(now)), "2026-12-03T23:00:00Z");
    }
}
