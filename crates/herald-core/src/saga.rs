//! The Flow Manager's messages (seed 03, `POST /saga/send`), in the shape of the Flow Manager's
//! REST channel (mia-platform documentation, `runtime_suite/flow-manager-service/30_configuration.md`):
//! a command is `{"key": <saga id>, "value": {"messageLabel", "messagePayload"}}`, and an event
//! sent back is the same envelope. Both levels refuse unknown fields, as the Flow Manager's own
//! event schema does (`additionalProperties: false`), so a misspelt field is an error rather
//! than a silently ignored one.

use crate::Invalid;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A Flow Manager command, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowManagerCommand {
    /// The saga's id (`key`).
    pub saga_id: String,
    /// The command's label (`value.messageLabel`).
    pub label: String,
    /// What the command carries (`value.messagePayload`): for `/saga/send`, a `POST /send` body.
    pub payload: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    key: String,
    value: Message,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Message {
    message_label: String,
    message_payload: Value,
}

impl FlowManagerCommand {
    /// Reads a command body; errors name the field by its path (`value.messagePayload`).
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        let envelope: Envelope = Invalid::deserialize(body)?;
        if envelope.key.trim().is_empty() {
            return Err(Invalid::new("key", "must be the saga id"));
        }
        if envelope.value.message_payload.is_null() {
            return Err(Invalid::new("value.messagePayload", "is required"));
        }
        Ok(Self { saga_id: envelope.key, label: envelope.value.message_label, payload: envelope.value.message_payload })
    }

    /// The saga id of a body, even one that is otherwise not a valid command, so a refused
    /// command can still be answered with a failure event.
    pub fn saga_id_of(body: &Value) -> Option<String> {
        body.get("key").and_then(Value::as_str).filter(|key| !key.trim().is_empty()).map(str::to_owned)
    }
}

/// The event Herald sends back to the Flow Manager for saga `saga_id`: `label` as
/// `messageLabel` and an empty object as `messagePayload` (seed 03).
pub fn flow_manager_event(saga_id: &str, label: &str) -> Value {
    json!({"key": saga_id, "value": {"messageLabel": label, "messagePayload": Map::new()}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_command() {
        let body = json!({"key": "SAGA_1", "value": {"messageLabel": "sendNotification", "messagePayload": {"channels": ["sms"]}}});
        let command = FlowManagerCommand::parse(body).unwrap();
        assert_eq!(command.saga_id, "SAGA_1");
        assert_eq!(command.label, "sendNotification");
        assert_eq!(command.payload, json!({"channels": ["sms"]}));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            (json!({"value": {"messageLabel": "l", "messagePayload": {}}}), "key"),
            (json!({"key": " ", "value": {"messageLabel": "l", "messagePayload": {}}}), "key"),
            (json!({"key": "s"}), "value"),
            (json!({"key": "s", "value": {"messagePayload": {}}}), "value.messageLabel"),
            (json!({"key": "s", "value": {"messageLabel": "l"}}), "value.messagePayload"),
            (json!({"key": "s", "value": {"messageLabel": "l", "messagePayload": null}}), "value.messagePayload"),
            (json!({"key": "s", "value": {"messageLabel": "l", "messagePayload": {}, "extra": 1}}), "value.extra"),
        ];
        for (body, field) in cases {
            assert_eq!(FlowManagerCommand::parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn the_saga_id_survives_an_invalid_command() {
        assert_eq!(FlowManagerCommand::saga_id_of(&json!({"key": "SAGA_1", "value": 3})), Some("SAGA_1".into()));
        assert_eq!(FlowManagerCommand::saga_id_of(&json!({"key": 3})), None);
    }

    #[test]
    fn events_carry_the_saga_id_and_an_empty_payload() {
        assert_eq!(
            flow_manager_event("SAGA_1", "notificationSent"),
            json!({"key": "SAGA_1", "value": {"messageLabel": "notificationSent", "messagePayload": {}}})
        );
    }
}
