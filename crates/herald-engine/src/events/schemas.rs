//! Validation of events against JSON Schemas: the event setting's, or a default handler's
//! built-in one. The schema sees the whole event (`name`, `id`, `key`, `metadata`, `payload`).
//!
//! Compiling a schema costs far more than validating an event with it, so compiled schemas are
//! kept, by their text, for the process's life ([`Validators`]); a changed schema is a new text.

use herald_core::Invalid;
use herald_core::event::IncomingEvent;
use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most compiled schemas kept; when full, they are all dropped and compiled again as used.
const MOST_KEPT: usize = 256;

/// Compiled schemas, by their text.
#[derive(Default)]
pub struct Validators {
    compiled: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Validators {
    /// Checks `event` against `schema`; the error names the first offending place.
    pub fn check(&self, schema: &Value, event: &IncomingEvent) -> Result<(), Invalid> {
        check_with(self.compiled(schema)?.as_ref(), event)
    }

    /// `schema`, compiled once.
    fn compiled(&self, schema: &Value) -> Result<Arc<Validator>, Invalid> {
        let text = schema.to_string();
        if let Some(validator) = self.compiled.lock().expect("the validators' lock is never poisoned").get(&text) {
            return Ok(validator.clone());
        }
        let validator = Arc::new(
            jsonschema::validator_for(schema).map_err(|_| Invalid::new("eventSchema", "the event setting's schema cannot be compiled"))?,
        );
        let mut compiled = self.compiled.lock().expect("the validators' lock is never poisoned");
        if compiled.len() >= MOST_KEPT {
            compiled.clear();
        }
        compiled.insert(text, validator.clone());
        Ok(validator)
    }
}

/// Checks `event` with `validator`; the error names the first offending place.
fn check_with(validator: &Validator, event: &IncomingEvent) -> Result<(), Invalid> {
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
        let validators = Validators::default();
        let check = |schema: &Value, event: &IncomingEvent| validators.check(schema, event);
        assert!(check(&schema, &event(json!({"startDate": "2024-01-01T00:00:00Z"}))).is_ok());
        let missing = check(&schema, &event(json!({}))).unwrap_err();
        assert_eq!(missing.field, "payload");
        assert!(missing.reason.contains("startDate"), "{missing}");
        assert_eq!(check(&schema, &event(json!({"startDate": 5}))).unwrap_err().field, "payload.startDate");
    }

    #[test]
    fn a_schema_is_compiled_once_and_a_changed_one_applies_at_once() {
        let validators = Validators::default();
        let event = IncomingEvent::parse(json!({"name": "E", "payload": {}})).unwrap();
        let strict = json!({"properties": {"payload": {"required": ["a"]}}});
        assert!(validators.check(&strict, &event).is_err());
        assert!(validators.check(&strict, &event).is_err());
        assert_eq!(validators.compiled.lock().unwrap().len(), 1, "compiled once");
        let loose = json!({"properties": {"payload": {"required": []}}});
        assert!(validators.check(&loose, &event).is_ok(), "a changed schema applies");
    }
}
