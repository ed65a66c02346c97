use super::string_newtype;

/// A phone number in E.164 form: `+`, a country code not starting with 0, at most 15 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    const DESCRIPTION: &'static str = "A phone number in E.164 format, e.g. +14155550123";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let digits = text.strip_prefix('+').ok_or("must be in E.164 format (start with +)")?;
        let valid = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if valid { Ok(Self(text.to_string())) } else { Err("must be in E.164 format (+ and 8 to 15 digits)") }
    }
}

string_newtype!(E164);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164() {
        assert!(E164::parse("+14155550123").is_ok());
        assert!(E164::parse("+390612345678").is_ok());
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in ["14155550123", "+0123456789", "+1 415 555 0123", "+1234567", "+1234567890123456", "+1415555O123"] {
            assert!(E164::parse(bad).is_err(), "{bad}");
        }
    }
}
