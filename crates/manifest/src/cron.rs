//! Cron expressions as the cron trigger reads them: six fields, seconds
//! first (`sec min hour day-of-month month day-of-week`).

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Parses a six-field cron expression; `Err` says why it is not one.
pub fn parse(expression: &str) -> Result<Cron, String> {
    let fields = expression.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "{expression:?} has {fields} fields; the cron trigger needs 6 (seconds first), e.g. \"*/1 * * * * *\" for every second"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| format!("{expression:?} is not a cron expression: {e}"))
}

/// The first time strictly after `after` that `cron` fires.
pub fn next_after(
    cron: &Cron,
    after: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    cron.find_next_occurrence(&after, false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn requires_six_fields() {
        assert!(parse("* * * * *").is_err());
        assert!(parse("* * * * * * *").is_err());
        assert!(parse("*/2 * * * * *").is_ok());
    }

    #[test]
    fn next_after_honours_seconds() {
        let cron = parse("*/2 * * * * *").unwrap();
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 0, 1)
            .unwrap();
        assert_eq!(
            next_after(&cron, t).unwrap(),
            t + chrono::Duration::seconds(1)
        );
    }
}
