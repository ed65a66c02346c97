//! `IC/ResourceForbiddenEvent/v1`: an integrity violation, sent to whoever the event's
//! settings target.

use super::push_unique;
use crate::EngineError;
use crate::events::context::HandlerContext;
use herald_core::rules::recipients::RecipientQuery;
use serde_json::{Value, json};

pub(crate) const EVENT: &str = "IC/ResourceForbiddenEvent/v1";

pub(crate) fn schema() -> Value {
    json!({"type": "object", "required": ["payload"], "properties": {"payload": {"type": "object"}}})
}

/// Every user a setting of the event targets (its `user`, and users in its `group`, `role`
/// and `cluster` together) receives the messages that apply to them. Settings that target
/// nobody in particular are not expanded to the whole directory: an integrity alert goes to
/// the people named for it.
pub(crate) async fn handle(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let sorted = context.get_notification_settings(EVENT, None).await?;
    let settings = context.merge_notification_settings(&sorted, None);
    let mut ids = Vec::new();
    for stored in &settings {
        let s = &stored.setting;
        let query = RecipientQuery {
            ids: s.user.iter().cloned().collect(),
            groups: s.group.iter().cloned().collect(),
            roles: s.role.iter().cloned().collect(),
            clusters: s.cluster.iter().cloned().collect(),
        };
        if !query.is_empty() {
            push_unique(&mut ids, context.get_recipients(&query).await?.into_iter().map(|r| r.user.id));
        }
    }
    let users = context.get_recipients(&RecipientQuery::ids(ids)).await?;
    for user in &users {
        let settings = context.settings_for(EVENT, user).await?;
        let specs = context.build_messages(&settings);
        context.send_messages(&event, user, &specs);
    }
    Ok(())
}
