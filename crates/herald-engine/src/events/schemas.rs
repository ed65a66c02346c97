//! Validation of events against JSON Schemas: the event setting's, or a default handler's
//! built-in one. The schema sees the whole event (`name`, `id`, `key`, `metadata`, `payload`).

use herald_core::Invalid;
use herald_core::event::IncomingEvent;
use serde_json::Value;

/// Checks `event` against `schema`; the error names the first offending place.
pub fn check(schema: &Value, event: &IncomingEvent) -> Result<(), Invalid> {
    let validator =
        jsonschema::validator_for(schema).map_err(|_| Invalid::new("eventSchema", "the event setting's schema cannot be compiled"))?;
    let instance = serde_json::to_value(event).expect("events serialize");
    match validator.iter_errors(&instance).next() {
        None => Ok(()),
        Some(error) => {
            let path = error.instance_path.to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            let text = error.to_string();
            let reason = match text.rsplit_once(" is not ") {
                Some((_, rest)) => format!("is not {rest}"),
                None => match text.strip_suffix(" is a required property") {
                    Some(property) => format!("requires {property}"),
                    None => text,
                },
            };
            Err(Invalid::new(field, format!("does not match the event's schema: {reason}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_offending_field() {
        let schema = json!({"type": "object", "required": ["payload"], "properties": {"payload": {"type": "object", "required": ["startDate"], "properties": {"startDate": {"type": "string", "format": "date-time"}}}}});
        let event = |payload: Value| IncomingEvent::parse(json!({"name": "E", "payload": payload})).unwrap();
        assert!(check(&schema, &event(json!({"startDate": "2024-01-01T00:00:00Z"}))).is_ok());
        let missing = check(&schema, &event(json!({}))).unwrap_err();
        assert_eq!(missing.field, "payload");
        assert!(missing.reason.contains("startDate"), "{missing}");
        assert_eq!(check(&schema, &event(json!({"startDate": 5}))).unwrap_err().field, "payload.startDate");
    }
}
