use super::string_newtype;

/// A tenant's short name: 1 to 63 lowercase letters, digits and inner hyphens (`st-claire`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

impl TenantSlug {
    const DESCRIPTION: &'static str = "A tenant slug, e.g. st-claire";

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let chars_ok = text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if text.is_empty() || text.len() > 63 || !chars_ok || text.starts_with('-') || text.ends_with('-') {
            return Err("must be 1 to 63 lowercase letters, digits or inner hyphens");
        }
        Ok(Self(text.to_string()))
    }
}

string_newtype!(TenantSlug);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(TenantSlug::parse("st-claire").is_ok());
        assert!(TenantSlug::parse("default").is_ok());
        for bad in ["", "St-Claire", "-x", "x-", "a b", "a_b"] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
