use super::string_newtype;

/// The name of an event type, e.g. `AM/AppointmentCreated/v1` or `appointment.scheduled`:
/// 1 to 200 characters among letters, digits and `_ . / : -`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventName(String);

impl EventName {
    const DESCRIPTION: &'static str = "An event name, e.g. AM/AppointmentCreated/v1";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_./:-".contains(c);
        if text.is_empty() || text.len() > 200 || !text.chars().all(allowed) {
            return Err("must be 1 to 200 letters, digits or _ . / : -");
        }
        Ok(Self(text.to_string()))
    }
}

string_newtype!(EventName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_are_valid() {
        for good in ["AM/AppointmentCreated/v1", "TMM/ThresholdExceeded/v1", "appointment.scheduled", "IC/ResourceForbiddenEvent/v1"] {
            assert!(EventName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "with space", "new\nline", &"x".repeat(201)] {
            assert!(EventName::parse(bad).is_err(), "{bad}");
        }
    }
}
