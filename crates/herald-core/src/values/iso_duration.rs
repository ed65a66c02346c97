use super::string_newtype;

/// A positive ISO 8601 duration such as `P1D`, `PT6H` or `P1DT30M`, as used for reminders.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IsoDuration(String);

impl IsoDuration {
    const DESCRIPTION: &'static str = "An ISO 8601 duration, e.g. P1D or PT30M";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const ERR: &str = "must be an ISO 8601 duration such as P1D or PT2H";
        if !text.starts_with(['P', 'p']) {
            return Err(ERR);
        }
        let span: jiff::Span = text.parse().map_err(|_| ERR)?;
        if span.is_zero() {
            return Err("must be a duration longer than zero");
        }
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// The duration as a calendar-aware span.
    pub fn span(&self) -> jiff::Span {
        self.0.parse().expect("validated on construction")
    }
}

string_newtype!(IsoDuration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iso_durations() {
        for good in ["P1D", "PT6H", "PT30M", "P1DT2H", "P2W", "P1M"] {
            assert!(IsoDuration::parse(good).is_ok(), "{good}");
        }
        assert_eq!(IsoDuration::parse("PT6H").unwrap().span().get_hours(), 6);
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in ["", "1D", "6 hours", "P", "PT", "-P1D", "P0D", "PT1X"] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }
}
