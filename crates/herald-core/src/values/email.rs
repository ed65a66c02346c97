use super::string_newtype;

/// An email address (an RFC 5322 addr-spec with a dotted domain; no display name, no CR/LF).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    const DESCRIPTION: &'static str = "An email address, e.g. patient@example.org";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let options = email_address::Options::default().without_display_text().with_required_tld();
        if text.len() > 254 || text.chars().any(char::is_control) {
            return Err("is not a valid email address");
        }
        email_address::EmailAddress::parse_with_options(text, options)
            .map(|_| Self(text.to_string()))
            .map_err(|_| "is not a valid email address")
    }
}

string_newtype!(EmailAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        assert!(EmailAddress::parse("jane.doe+clinic@example.org").is_ok());
    }

    #[test]
    fn refuses_broken_or_injected_addresses() {
        for bad in ["", "jane", "jane@", "@example.org", "Jane <jane@example.org>", "jane@example.org\r\nBcc: x@y.z", "jane@localhost"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
