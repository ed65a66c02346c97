use super::string_newtype;
use jiff::civil::Time;

/// A daily time slot `HH:MM-HH:MM` (seconds optional) in which notifications may be sent.
///
/// The slot is read in the recipient's local time. An end earlier than the start crosses
/// midnight (`22:00-06:00` is the night); the end itself is excluded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HoursRange(String);

impl HoursRange {
    const DESCRIPTION: &'static str = "A daily time slot HH:MM-HH:MM, e.g. 09:00-18:00";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        Self::bounds_of(text)?;
        Ok(Self(text.to_string()))
    }

    fn bounds_of(text: &str) -> Result<(Time, Time), &'static str> {
        const ERR: &str = "must be a time slot HH:MM-HH:MM, e.g. 09:00-18:00";
        let (start, end) = text.split_once('-').ok_or(ERR)?;
        let parse = |t: &str| -> Result<Time, &'static str> {
            let well_formed = matches!(t.len(), 5 | 8) && t.as_bytes()[2] == b':';
            if !well_formed {
                return Err(ERR);
            }
            t.parse::<Time>().map_err(|_| ERR)
        };
        let (start, end) = (parse(start)?, parse(end)?);
        if start == end {
            return Err("must not start and end at the same time");
        }
        Ok((start, end))
    }

    /// Whether `time` (local to the recipient) falls in the slot.
    pub fn contains(&self, time: Time) -> bool {
        let (start, end) = Self::bounds_of(&self.0).expect("validated on construction");
        if start < end { start <= time && time < end } else { time >= start || time < end }
    }
}

string_newtype!(HoursRange);

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::time;

    #[test]
    fn day_slot() {
        let slot = HoursRange::parse("09:00-18:00").unwrap();
        assert!(slot.contains(time(9, 0, 0, 0)));
        assert!(slot.contains(time(17, 59, 59, 0)));
        assert!(!slot.contains(time(18, 0, 0, 0)));
        assert!(!slot.contains(time(8, 59, 0, 0)));
    }

    #[test]
    fn night_slot_crosses_midnight() {
        let slot = HoursRange::parse("22:00-06:00").unwrap();
        assert!(slot.contains(time(23, 0, 0, 0)));
        assert!(slot.contains(time(5, 0, 0, 0)));
        assert!(!slot.contains(time(12, 0, 0, 0)));
    }

    #[test]
    fn refuses_malformed_slots() {
        for bad in ["", "09:00", "9:00-18:00", "09:00-25:00", "09:00-09:00", "09-18", "09:00–18:00", "aa:bb-cc:dd"] {
            assert!(HoursRange::parse(bad).is_err(), "{bad}");
        }
        assert!(HoursRange::parse("09:00:30-18:00:00").is_ok());
    }
}
