//! Reading loosely typed JSON that senders write either way: event metadata, token claims.

use serde_json::Value;

/// The strings of a field that holds one string or a list of strings; empty strings and
/// anything else are left out.
pub fn one_or_many(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::one_or_many;
    use serde_json::json;

    #[test]
    fn one_string_or_a_list_of_strings() {
        assert_eq!(one_or_many(Some(&json!("a"))), ["a"]);
        assert_eq!(one_or_many(Some(&json!(["a", "", 3, "b"]))), ["a", "b"]);
        assert!(one_or_many(Some(&json!(""))).is_empty());
        assert!(one_or_many(Some(&json!({"a": 1}))).is_empty());
        assert!(one_or_many(None).is_empty());
    }
}
