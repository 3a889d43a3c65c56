//! Calendar days in the UK, written the way people in the UK write them ("14 September 2026").
//!
//! The model stores milliseconds since the Unix epoch (UTC). A workshop that agrees its
//! values at 00:30 on a summer night in Leeds agreed them on that day, not the day before, so
//! days are taken in UK civil time: UTC, plus one hour of British Summer Time from 01:00 UTC
//! on the last Sunday of March to 01:00 UTC on the last Sunday of October. No time-zone
//! database is needed for that rule, and the export stays free of clocks and I/O.

use serde::{Deserialize, Serialize};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day {
    /// The year, e.g. 2026.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
}

impl Day {
    /// The day in the UK at a moment given in milliseconds since the Unix epoch.
    pub fn uk(millis: i64) -> Day {
        let utc = civil(millis.div_euclid(DAY_MS));
        let offset = if in_summer_time(millis, utc.year) { HOUR_MS } else { 0 };
        civil((millis + offset).div_euclid(DAY_MS))
    }

    /// The same day `months` later; a day that month doesn't have becomes its last day
    /// (29 February plus twelve months is 28 February).
    pub fn plus_months(self, months: u32) -> Day {
        let index = i64::from(self.month - 1) + i64::from(months);
        let year = self.year + i32::try_from(index / 12).unwrap_or(0);
        let month = u32::try_from(index % 12).unwrap_or(0) + 1;
        Day { year, month, day: self.day.min(days_in_month(year, month)) }
    }

    /// "14 September 2026".
    pub fn long(self) -> String {
        let month = MONTHS.get(self.month as usize - 1).copied().unwrap_or("?");
        format!("{} {month} {}", self.day, self.year)
    }

    /// "2026-09-14" (for metadata).
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The civil day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> Day {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Day { year, month, day }
}

/// Days since 1970-01-01 of a civil day (the inverse of [`civil`]).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since the epoch of the last Sunday of a month.
fn last_sunday(year: i32, month: u32) -> i64 {
    let last = days_from_civil(year, month, days_in_month(year, month));
    // 1970-01-01 was a Thursday: day 0 is weekday 4 counting from Sunday = 0.
    let weekday = (last + 4).rem_euclid(7);
    last - weekday
}

fn in_summer_time(millis: i64, year: i32) -> bool {
    let start = last_sunday(year, 3) * DAY_MS + HOUR_MS;
    let end = last_sunday(year, 10) * DAY_MS + HOUR_MS;
    (start..end).contains(&millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_uk_civil_days() {
        // 2026-09-14T12:00:00Z.
        assert_eq!(Day::uk(1_789_387_200_000).long(), "14 September 2026");
        // 23:30 UTC on 14 July 2026 is 00:30 BST on 15 July.
        assert_eq!(Day::uk(1_784_071_800_000).long(), "15 July 2026");
        // 23:30 UTC on 14 January 2026 is still 14 January in winter.
        assert_eq!(Day::uk(1_768_433_400_000).long(), "14 January 2026");
        assert_eq!(Day::uk(0).iso(), "1970-01-01");
    }

    #[test]
    fn twelve_months_on_keeps_the_day_or_the_end_of_the_month() {
        let leap = Day { year: 2028, month: 2, day: 29 };
        assert_eq!(leap.plus_months(12), Day { year: 2029, month: 2, day: 28 });
        let d = Day { year: 2026, month: 11, day: 30 };
        assert_eq!(d.plus_months(3), Day { year: 2027, month: 2, day: 28 });
    }

    #[test]
    fn summer_time_changes_on_the_last_sundays() {
        // 2026: 29 March and 25 October.
        assert_eq!(civil(last_sunday(2026, 3)), Day { year: 2026, month: 3, day: 29 });
        assert_eq!(civil(last_sunday(2026, 10)), Day { year: 2026, month: 10, day: 25 });
    }
}
