//! Quiet hours: daily windows, in the recipient's local time, in which messages wait.
//!
//! A window is `{start: "22:00", end: "07:00", days?: ["mon", …]}`. An end earlier than the
//! start crosses midnight; `days` names the days the window *starts* on (every day when
//! absent), so `{start: "22:00", end: "07:00", days: ["fri"]}` is Friday night until Saturday
//! 07:00. Windows of one recipient may touch but not overlap.
//!
//! Local times become instants through the time zone database: a start or end that falls in a
//! spring-forward gap moves forward by the gap (02:30 becomes 03:30), and one that occurs twice
//! when the clocks go back means its first occurrence.

use crate::Invalid;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most windows one recipient may have.
pub const MAX_WINDOWS: usize = 14;

const MINUTES_PER_DAY: i32 = 24 * 60;
const MINUTES_PER_WEEK: i32 = 7 * MINUTES_PER_DAY;

/// A day of the week, as windows name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    /// Every day, Monday first.
    const ALL: [Day; 7] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];

    fn of(weekday: Weekday) -> Day {
        Self::ALL[usize::from(weekday.to_monday_zero_offset().unsigned_abs())]
    }

    fn index(self) -> i32 {
        Self::ALL.iter().position(|d| *d == self).map_or(0, |i| i as i32)
    }
}

/// One quiet window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// When it starts, `HH:MM` local time.
    #[schema(example = "22:00")]
    pub start: String,
    /// When it ends (excluded), `HH:MM` local time; earlier than `start` crosses midnight.
    #[schema(example = "07:00")]
    pub end: String,
    /// The days it starts on; every day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
}

/// A time `HH:MM`, 00:00 to 23:59.
fn parse_time(text: &str) -> Option<Time> {
    let well_formed = text.len() == 5 && text.as_bytes()[2] == b':' && text.bytes().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let (hour, minute) = (text[..2].parse::<i8>().ok()?, text[3..].parse::<i8>().ok()?);
    Time::new(hour, minute, 0, 0).ok()
}

fn minutes(time: Time) -> i32 {
    i32::from(time.hour()) * 60 + i32::from(time.minute())
}

impl QuietHours {
    fn bounds(&self) -> (Time, Time) {
        (parse_time(&self.start).expect("validated"), parse_time(&self.end).expect("validated"))
    }

    fn applies_on(&self, weekday: Weekday) -> bool {
        self.days.as_ref().is_none_or(|days| days.contains(&Day::of(weekday)))
    }

    fn check(&self) -> Result<(), Invalid> {
        const TIME: &str = "must be a time HH:MM, e.g. 22:00";
        let start = parse_time(&self.start).ok_or_else(|| Invalid::new("start", TIME))?;
        let end = parse_time(&self.end).ok_or_else(|| Invalid::new("end", TIME))?;
        if start == end {
            return Err(Invalid::new("end", "must differ from start"));
        }
        if let Some(days) = &self.days {
            if days.is_empty() {
                return Err(Invalid::new("days", "must name at least one day, or be left out for every day"));
            }
            crate::resources::require_distinct("days", days)?;
        }
        Ok(())
    }

    /// The minutes of the week (Monday 00:00 = 0) the window covers, as half-open ranges.
    fn week_ranges(&self) -> Vec<(i32, i32)> {
        let (start, end) = self.bounds();
        let length = (minutes(end) - minutes(start)).rem_euclid(MINUTES_PER_DAY);
        let days: Vec<Day> = self.days.clone().unwrap_or_else(|| Day::ALL.to_vec());
        let mut ranges = Vec::new();
        for day in days {
            let from = day.index() * MINUTES_PER_DAY + minutes(start);
            let to = from + length;
            if to > MINUTES_PER_WEEK {
                ranges.push((from, MINUTES_PER_WEEK));
                ranges.push((0, to - MINUTES_PER_WEEK));
            } else {
                ranges.push((from, to));
            }
        }
        ranges
    }

    /// When this window, begun on `date`, starts and ends in `zone`.
    fn on(&self, date: Date, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let (start, end) = self.bounds();
        let end_date = if end <= start { date.tomorrow().ok()? } else { date };
        let instant = |date: Date, time: Time| zone.to_ambiguous_zoned(date.to_datetime(time)).compatible().ok().map(|z| z.timestamp());
        Some((instant(date, start)?, instant(end_date, end)?))
    }

    /// The end of this window, when `at` falls in it.
    fn covering(&self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let today = at.to_zoned(zone.clone()).date();
        let yesterday = today.checked_sub(1.day()).ok()?;
        [yesterday, today]
            .into_iter()
            .filter(|date| self.applies_on(date.weekday()))
            .filter_map(|date| self.on(date, zone))
            .find(|(start, end)| *start <= at && at < *end)
            .map(|(_, end)| end)
    }
}

/// Checks a recipient's windows: well-formed times, start and end apart, days named once,
/// at most [`MAX_WINDOWS`], and no two windows overlapping.
pub fn validate(windows: &[QuietHours]) -> Result<(), Invalid> {
    if windows.len() > MAX_WINDOWS {
        return Err(Invalid::new("", format!("at most {MAX_WINDOWS} windows")));
    }
    for (i, window) in windows.iter().enumerate() {
        window.check().map_err(|e| e.within(&format!("[{i}]")))?;
    }
    let ranges: Vec<Vec<(i32, i32)>> = windows.iter().map(QuietHours::week_ranges).collect();
    for (i, mine) in ranges.iter().enumerate() {
        for theirs in &ranges[..i] {
            if mine.iter().any(|a| theirs.iter().any(|b| a.0 < b.1 && b.0 < a.1)) {
                return Err(Invalid::new(format!("[{i}]"), "overlaps another window"));
            }
        }
    }
    Ok(())
}

/// When the quiet hours around `now` end, in `zone`; `None` when `now` is not in quiet hours.
/// Windows that touch count as one quiet period.
pub fn quiet_until(windows: &[QuietHours], now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let mut until = None;
    let mut at = now;
    for _ in 0..=windows.len() * 8 {
        match windows.iter().filter_map(|w| w.covering(at, zone)).max() {
            Some(end) if end > at => {
                until = Some(end);
                at = end;
            }
            _ => break,
        }
    }
    until
}

/// When a message may go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Now: the recipient is not in quiet hours.
    Now,
    /// Not before this instant, when the recipient's quiet hours end.
    DeferUntil(Timestamp),
    /// Now, although the recipient is in quiet hours until this instant: the message is
    /// urgent. The bypass must be audited.
    UrgentBypass(Timestamp),
}

/// When a message, urgent or not, may go to a recipient with `windows` in `zone` at `now`.
pub fn timing(windows: &[QuietHours], urgent: bool, now: Timestamp, zone: &TimeZone) -> Timing {
    match quiet_until(windows, now, zone) {
        None => Timing::Now,
        Some(end) if urgent => Timing::UrgentBypass(end),
        Some(end) => Timing::DeferUntil(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn window(start: &str, end: &str, days: Option<Vec<Day>>) -> QuietHours {
        QuietHours { start: start.into(), end: end.into(), days }
    }

    fn at(zone: &TimeZone, y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
        zone.to_ambiguous_zoned(date(y, m, d).at(h, min, 0, 0)).compatible().unwrap().timestamp()
    }

    #[test]
    fn table_of_local_times() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let night = [window("22:00", "07:00", None)];
        // (local time, quiet until local time)
        /// Day of June, hour, minute.
        type Local = (i8, i8, i8);
        let cases: &[(Local, Option<Local>)] = &[
            ((10, 21, 59), None),
            ((10, 22, 0), Some((11, 7, 0))),
            ((10, 23, 30), Some((11, 7, 0))),
            ((11, 0, 0), Some((11, 7, 0))),
            ((11, 6, 59), Some((11, 7, 0))),
            ((11, 7, 0), None),
            ((11, 12, 0), None),
        ];
        for &((day, hour, minute), expected) in cases {
            let now = at(&rome, 2026, 6, day, hour, minute);
            let expected = expected.map(|(d, h, m)| at(&rome, 2026, 6, d, h, m));
            assert_eq!(quiet_until(&night, now, &rome), expected, "June {day} {hour}:{minute}");
        }
    }

    #[test]
    fn days_name_the_night_it_starts() {
        let utc = TimeZone::UTC;
        let friday_night = [window("22:00", "07:00", Some(vec![Day::Fri]))];
        // 2026-06-12 is a Friday.
        assert_eq!(quiet_until(&friday_night, at(&utc, 2026, 6, 12, 23, 0), &utc), Some(at(&utc, 2026, 6, 13, 7, 0)));
        assert_eq!(quiet_until(&friday_night, at(&utc, 2026, 6, 13, 3, 0), &utc), Some(at(&utc, 2026, 6, 13, 7, 0)));
        assert_eq!(quiet_until(&friday_night, at(&utc, 2026, 6, 13, 23, 0), &utc), None);
        assert_eq!(quiet_until(&friday_night, at(&utc, 2026, 6, 12, 3, 0), &utc), None);
    }

    #[test]
    fn touching_windows_are_one_quiet_period() {
        let utc = TimeZone::UTC;
        let windows = [window("22:00", "00:00", None), window("00:00", "06:00", None)];
        assert!(validate(&windows).is_ok());
        assert_eq!(quiet_until(&windows, at(&utc, 2026, 6, 12, 23, 0), &utc), Some(at(&utc, 2026, 6, 13, 6, 0)));
    }

    #[test]
    fn dst_changes_keep_local_times() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let night = [window("22:00", "07:00", None)];
        // The clocks go forward on 2026-03-29 and back on 2026-10-25: the night still ends at
        // 07:00 local, 8 and 10 hours after it began.
        let spring = quiet_until(&night, at(&rome, 2026, 3, 28, 23, 0), &rome).unwrap();
        assert_eq!(spring, at(&rome, 2026, 3, 29, 7, 0));
        assert_eq!(spring.duration_since(at(&rome, 2026, 3, 28, 22, 0)).as_hours(), 8);
        let autumn = quiet_until(&night, at(&rome, 2026, 10, 24, 23, 0), &rome).unwrap();
        assert_eq!(autumn.duration_since(at(&rome, 2026, 10, 24, 22, 0)).as_hours(), 10);
        // A window ending inside the spring-forward gap (02:00 to 03:00) ends the gap's length
        // later: 02:30 becomes 03:30, still 90 minutes after 01:00 by the clock on the wall.
        let gap = [window("01:00", "02:30", None)];
        assert_eq!(quiet_until(&gap, at(&rome, 2026, 3, 29, 1, 30), &rome), Some(at(&rome, 2026, 3, 29, 3, 30)));
    }

    #[test]
    fn property_quiet_exactly_inside_windows_and_free_at_their_end() {
        let zones = ["America/New_York", "Europe/Rome", "Australia/Lord_Howe", "UTC"];
        let windows =
            [window("22:30", "06:15", Some(vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Sun])), window("13:00", "14:00", None)];
        validate(&windows).unwrap();
        for name in zones {
            let zone = TimeZone::get(name).unwrap();
            let mut now = at(&zone, 2026, 1, 1, 0, 0);
            let stop = at(&zone, 2027, 1, 1, 0, 0);
            while now < stop {
                let local = now.to_zoned(zone.clone());
                let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
                let day = Day::of(local.weekday());
                let previous = Day::of(local.weekday().previous());
                let nightly = |d: Day| [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Sun].contains(&d);
                let expected_quiet = (13 * 60..14 * 60).contains(&minute)
                    || (minute >= 22 * 60 + 30 && nightly(day))
                    || (minute < 6 * 60 + 15 && nightly(previous));
                match quiet_until(&windows, now, &zone) {
                    Some(end) => {
                        assert!(expected_quiet, "{name} {local} should not be quiet");
                        assert!(end > now);
                        assert_eq!(quiet_until(&windows, end, &zone), None, "{name}: free again at {end}");
                        assert!(end.duration_since(now).as_hours() <= 9, "{name} {local}: quiet for too long");
                    }
                    None => assert!(!expected_quiet, "{name} {local} should be quiet"),
                }
                now = now.checked_add(jiff::SignedDuration::from_mins(37)).unwrap();
            }
        }
    }

    #[test]
    fn urgent_messages_bypass_and_say_until_when() {
        let utc = TimeZone::UTC;
        let night = [window("22:00", "07:00", None)];
        let late = at(&utc, 2026, 6, 12, 23, 0);
        let end = at(&utc, 2026, 6, 13, 7, 0);
        assert_eq!(timing(&night, false, late, &utc), Timing::DeferUntil(end));
        assert_eq!(timing(&night, true, late, &utc), Timing::UrgentBypass(end));
        assert_eq!(timing(&night, false, at(&utc, 2026, 6, 13, 12, 0), &utc), Timing::Now);
        assert_eq!(timing(&[], false, late, &utc), Timing::Now);
    }

    #[test]
    fn refuses_malformed_and_overlapping_windows() {
        let bad = [
            (vec![window("7:00", "08:00", None)], "[0].start"),
            (vec![window("07:00", "24:00", None)], "[0].end"),
            (vec![window("07:00", "07:00", None)], "[0].end"),
            (vec![window("07:00", "08:00:00", None)], "[0].end"),
            (vec![window("07:00", "08:00", Some(vec![]))], "[0].days"),
            (vec![window("07:00", "08:00", Some(vec![Day::Mon, Day::Mon]))], "[0].days[1]"),
            (vec![window("22:00", "07:00", None), window("06:00", "08:00", None)], "[1]"),
            (vec![window("22:00", "07:00", Some(vec![Day::Sun])), window("06:00", "08:00", Some(vec![Day::Mon]))], "[1]"),
        ];
        for (windows, field) in bad {
            assert_eq!(validate(&windows).unwrap_err().field, field, "{windows:?}");
        }
        let fine = [window("22:00", "07:00", Some(vec![Day::Sun])), window("06:00", "08:00", Some(vec![Day::Tue]))];
        assert!(validate(&fine).is_ok());
        assert!(validate(&vec![window("01:00", "02:00", None); MAX_WINDOWS + 1]).is_err());
    }
}
