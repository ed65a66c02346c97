//! The one error type for input that breaks a domain rule.

use std::fmt;

/// Input that breaks a rule: which field (a dotted path, `[n]` for array items) and why.
///
/// Messages never echo the offending value, so patient data and contact details cannot leak
/// into error bodies or logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted path of the offending field (empty when the whole input is at fault).
    pub field: String,
    /// What is wrong with it, in plain words.
    pub reason: String,
}

impl Invalid {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }

    /// The same error, placed under `parent` (e.g. `[3]` or `body`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = match (parent.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => parent.to_string(),
            (false, false) if self.field.starts_with('[') => format!("{parent}{}", self.field),
            (false, false) => format!("{parent}.{}", self.field),
        };
        self
    }

    /// Deserializes `value` into `T`, turning serde's complaint into an [`Invalid`] that names
    /// the field by its path.
    pub fn deserialize<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, Invalid> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let mut field = if path == "." { String::new() } else { path };
            let message = e.into_inner().to_string();
            // serde reports a missing field at its parent: name it directly.
            if let Some(name) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
                field = if field.is_empty() { name.to_string() } else { format!("{field}.{name}") };
            }
            Invalid::new(field, scrub_serde_message(&message))
        })
    }
}

/// serde's messages quote the offending value (`invalid type: string "0612…"`); keep the
/// kind of value, drop the value itself.
fn scrub_serde_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[start] as char;
        out.push_str(&rest[..start]);
        match rest[start + 1..].find(quote) {
            Some(end) => {
                let inner = &rest[start + 1..start + 1 + end];
                let identifier = inner.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let keep = quote == '`' && identifier;
                if keep {
                    out.push('`');
                    out.push_str(inner);
                    out.push('`');
                } else {
                    out.push_str("(value)");
                }
                rest = &rest[start + 2 + end..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.replace("string (value)", "a string").replace("integer (value)", "an integer")
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { write!(f, "{}", self.reason) } else { write!(f, "{}: {}", self.field, self.reason) }
    }
}

impl std::error::Error for Invalid {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn names_the_field_and_hides_the_value() {
        let err = Invalid::deserialize::<Sample>(serde_json::json!({"name": "x", "tags": ["a", 7]})).unwrap_err();
        assert_eq!(err.field, "tags[1]");
        let err = Invalid::deserialize::<Sample>(serde_json::json!({"name": "+33612345678", "tags": 3})).unwrap_err();
        assert_eq!(err.field, "tags");
        let err = Invalid::deserialize::<Sample>(serde_json::json!({"name": 5, "tags": []})).unwrap_err();
        assert_eq!(err.field, "name");
        assert!(!err.reason.contains('5'), "{}", err.reason);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = Invalid::deserialize::<Sample>(serde_json::json!({"name": "x", "tags": [], "colour": 1})).unwrap_err();
        assert!(err.reason.contains("`colour`"), "{}", err.reason);
        assert_eq!(err.field, "colour");
        let err = Invalid::deserialize::<Sample>(serde_json::json!({"tags": []})).unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn within_prefixes_paths() {
        assert_eq!(Invalid::new("a", "bad").within("[2]").field, "[2].a");
        assert_eq!(Invalid::new("[1]", "bad").within("users").field, "users[1]");
        assert_eq!(Invalid::new("", "bad").within("body").field, "body");
    }
}
