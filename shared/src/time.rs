//! Instants as history and messages write them: milliseconds since the epoch, and RFC 3339
//! in UTC (formatted by the SDK's own `DateTime`).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Milliseconds since the epoch; a clock before 1970 reads as 0.
pub fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// An instant as RFC 3339 in UTC, second precision.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = i64::try_from(epoch_millis(t) / 1000).unwrap_or(i64::MAX);
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        // Only a year past 9999 cannot be written; no clock of ours reads that.
        .unwrap_or_else(|_| "9999-12-31T23:59:59Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_are_written_in_utc_to_the_second() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_806_400_999);
        assert_eq!(rfc3339(t), "2025-12-04T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(epoch_millis(t), 1_764_806_400_999);
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_399_542);
        assert_eq!(rfc3339(t), "2026-11-23T02:05:42Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
