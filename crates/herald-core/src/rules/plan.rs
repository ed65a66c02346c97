//! Therapy and monitoring plan days (seed 03, `TMM/…Reminder/v1`): a plan with `each: ["day"]`
//! is active every day from `startDate` to `endDate`; one with weekday names only on those
//! days. A reminder for a plan day fires the reminder's duration before midnight UTC of that
//! day.

use crate::values::IsoDuration;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;

/// The schedule part of a therapy or monitoring plan.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSchedule {
    /// First day of the plan.
    pub start_date: Timestamp,
    /// Last day of the plan (inclusive).
    pub end_date: Timestamp,
    /// `day`, or weekday names (`monday` …).
    pub each: Vec<String>,
}

impl PlanSchedule {
    /// Whether the plan asks for action on `day`.
    pub fn is_active_on(&self, day: Date) -> bool {
        let first = self.start_date.to_zoned(TimeZone::UTC).date();
        let last = self.end_date.to_zoned(TimeZone::UTC).date();
        if day < first || day > last {
            return false;
        }
        self.each.iter().any(|each| each == "day" || weekday(each) == Some(day.weekday()))
    }

    /// The first plan day whose reminder (`schedule` before its midnight UTC) fires after
    /// `after`, with that firing time; `None` when the plan has no such day left.
    pub fn next_reminder(&self, schedule: &IsoDuration, after: Timestamp) -> Option<(Date, Timestamp)> {
        let mut day = self.start_date.to_zoned(TimeZone::UTC).date();
        let last = self.end_date.to_zoned(TimeZone::UTC).date();
        while day <= last {
            if self.is_active_on(day) {
                let midnight = day.to_zoned(TimeZone::UTC).ok()?;
                let fires = midnight.checked_sub(schedule.span()).ok()?.timestamp();
                if fires > after {
                    return Some((day, fires));
                }
            }
            day = day.checked_add(1.day()).ok()?;
        }
        None
    }
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(each: serde_json::Value) -> PlanSchedule {
        serde_json::from_value(json!({"startDate": "2022-06-01T00:00:00Z", "endDate": "2022-06-15T00:00:00Z", "each": each})).unwrap()
    }

    #[test]
    fn daily_reminders_fire_before_midnight_utc_of_each_day() {
        let hour = IsoDuration::parse("PT1H").unwrap();
        let daily = plan(json!(["day"]));
        let (day, fires) = daily.next_reminder(&hour, "2022-05-01T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!((day.to_string(), fires.to_string()), ("2022-06-01".into(), "2022-05-31T23:00:00Z".into()));
        let (day, fires) = daily.next_reminder(&hour, fires).unwrap();
        assert_eq!((day.to_string(), fires.to_string()), ("2022-06-02".into(), "2022-06-01T23:00:00Z".into()));
        let (last, fires) = daily.next_reminder(&hour, "2022-06-13T23:00:00Z".parse().unwrap()).unwrap();
        assert_eq!((last.to_string(), fires.to_string()), ("2022-06-15".into(), "2022-06-14T23:00:00Z".into()));
        assert!(daily.next_reminder(&hour, fires).is_none(), "nothing after the plan ends");
    }

    #[test]
    fn weekly_plans_only_on_their_days() {
        let weekly = plan(json!(["monday", "friday"]));
        let hour = IsoDuration::parse("PT1H").unwrap();
        let days: Vec<String> =
            std::iter::successors(weekly.next_reminder(&hour, "2022-01-01T00:00:00Z".parse().unwrap()), |(_, fires)| {
                weekly.next_reminder(&hour, *fires)
            })
            .map(|(day, _)| day.to_string())
            .collect();
        assert_eq!(days, ["2022-06-03", "2022-06-06", "2022-06-10", "2022-06-13"]);
    }
}
