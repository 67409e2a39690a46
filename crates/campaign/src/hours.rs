//! Working hours (SPEC B-1): whether a campaign may dial now, evaluated in
//! the workspace's IANA zone. No windows means any time.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::settings::WorkingWindow;

pub fn is_open(windows: &[WorkingWindow], zone: Tz, now: DateTime<Utc>) -> bool {
    if windows.is_empty() {
        return true;
    }
    let local = now.with_timezone(&zone);
    let day = local.weekday().number_from_monday() as u8;
    let time = local.time();
    windows.iter().any(|w| {
        w.days.contains(&day)
            && w.times()
                .is_some_and(|(from, to)| from <= time && time < to)
    })
}

/// The workspace zone, `Asia/Ho_Chi_Minh` when unknown.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Ho_Chi_Minh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn opens_in_the_workspace_zone_not_utc() {
        // SPEC B-1: 08:00–17:00 Monday–Friday in Hanoi time.
        let w = vec![WorkingWindow {
            days: vec![1, 2, 3, 4, 5],
            from: "08:00".into(),
            to: "17:00".into(),
        }];
        let hcm = zone("Asia/Ho_Chi_Minh");
        // 2026-12-02 is a Wednesday. 01:30Z = 08:30 local.
        assert!(is_open(&w, hcm, at("2026-12-02T01:30:00Z")));
        // 00:30Z = 07:30 local: closed, though 00:30 UTC is inside nothing either.
        assert!(!is_open(&w, hcm, at("2026-12-02T00:30:00Z")));
        // 09:30Z = 16:30 local: open; 10:00Z = 17:00 local: closed (exclusive).
        assert!(is_open(&w, hcm, at("2026-12-02T09:30:00Z")));
        assert!(!is_open(&w, hcm, at("2026-12-02T10:00:00Z")));
        // Saturday 2026-12-05 09:00 local.
        assert!(!is_open(&w, hcm, at("2026-12-05T02:00:00Z")));
    }

    #[test]
    fn is_always_open_without_windows() {
        assert!(is_open(&[], zone("nope"), at("2026-12-05T23:00:00Z")));
    }
}
