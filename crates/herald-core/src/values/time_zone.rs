use super::string_newtype;

/// An IANA time zone name known to Herald's bundled time zone database (e.g. `Europe/Rome`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    const DESCRIPTION: &'static str = "An IANA time zone name, e.g. Europe/Rome";

    /// Checks `text` against the time zone database and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        jiff::tz::TimeZone::get(text).map(|_| Self(text.to_string())).map_err(|_| "is not a known IANA time zone")
    }

    /// The time zone itself, for computing local times.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).expect("validated on construction")
    }
}

string_newtype!(TimeZoneName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_iana_names() {
        assert!(TimeZoneName::parse("Europe/Rome").is_ok());
        assert!(TimeZoneName::parse("America/New_York").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus_Mons").is_err());
        assert!(TimeZoneName::parse("").is_err());
    }
}
