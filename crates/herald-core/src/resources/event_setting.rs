//! Event settings: per-event visibility, supported channels, schema and handler.

use super::channel::Channel;
use super::require_distinct;
use crate::Invalid;
use crate::document::to_body;
use crate::values::EventName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An event setting, with the notification manager's fields; one per event name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSetting {
    /// The event the setting is for (unique per tenant).
    pub event_name: EventName,
    /// Groups the event is visible to; everyone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_groups: Option<Vec<String>>,
    /// Channels the event may be sent on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_channels: Option<Vec<Channel>>,
    /// JSON Schema the event must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub event_schema: Option<Value>,
    /// Name of the custom handler that processes the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_name: Option<String>,
    /// Free configuration handed to the handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_config: Option<Map<String, Value>>,
}

/// Validates and normalizes an event setting; `eventSchema` must itself be a valid JSON Schema.
pub fn validate(body: Value) -> Result<Map<String, Value>, Invalid> {
    let setting: EventSetting = Invalid::deserialize(body)?;
    if let Some(channels) = &setting.supported_channels {
        require_distinct("supportedChannels", channels)?;
    }
    if let Some(schema) = &setting.event_schema {
        check_json_schema(schema).map_err(|reason| Invalid::new("eventSchema", reason))?;
    }
    if let Some(name) = &setting.handler_name
        && name.trim().is_empty()
    {
        return Err(Invalid::new("handlerName", "must not be empty"));
    }
    Ok(to_body(&setting))
}

/// Checks that `schema` is a JSON Schema Herald can validate events with: valid against its
/// meta-schema, and compilable (no references to remote documents).
fn check_json_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("must be a JSON Schema object".into());
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("is not a valid JSON Schema: {} at {}", e.kind_summary(), e.instance_path))?;
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| format!("cannot be compiled: {}", e.kind_summary()))
}

trait KindSummary {
    fn kind_summary(&self) -> String;
}

impl KindSummary for jsonschema::ValidationError<'_> {
    /// The error without the offending value, which could be anything the client sent.
    fn kind_summary(&self) -> String {
        let text = self.to_string();
        match text.rsplit_once(" is not ") {
            Some((_, rest)) => format!("value is not {rest}"),
            None => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_schema() {
        let out = validate(json!({
            "eventName": "custom/Event/v1",
            "eventSchema": {"type": "object", "required": ["payload"], "properties": {"payload": {"type": "object"}}},
            "handlerName": "myHandler",
            "supportedChannels": ["email", "sms"]
        }))
        .unwrap();
        assert_eq!(out["handlerName"], "myHandler");
    }

    #[test]
    fn refuses_an_invalid_schema() {
        let err = validate(json!({"eventName": "E", "eventSchema": {"type": "strange"}})).unwrap_err();
        assert_eq!(err.field, "eventSchema");
        let err = validate(json!({"eventName": "E", "eventSchema": {"minLength": -1}})).unwrap_err();
        assert_eq!(err.field, "eventSchema");
        let err = validate(json!({"eventName": "E", "eventSchema": "yes"})).unwrap_err();
        assert_eq!(err.field, "eventSchema");
    }

    #[test]
    fn names_other_bad_fields() {
        assert_eq!(validate(json!({"eventName": "E", "supportedChannels": ["fax"]})).unwrap_err().field, "supportedChannels[0]");
        assert_eq!(validate(json!({"eventName": "E", "handlerConfig": []})).unwrap_err().field, "handlerConfig");
        assert_eq!(validate(json!({})).unwrap_err().field, "eventName");
    }
}
