//! Template previews: a stored template rendered for given data, user and locale, without
//! sending anything.

use crate::EngineError;
use crate::documents::Documents;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::render::{self, RenderInput};
use herald_core::resources::Collection;
use herald_core::resources::template::Template;
use herald_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

/// Renders stored templates on request.
#[derive(Clone)]
pub struct Previews {
    documents: Documents,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    default_locale: String,
}

impl Previews {
    /// A previewer over the tenant's templates.
    pub fn new(documents: Documents, store: Arc<dyn Store>, clock: Arc<dyn Clock>, default_locale: String) -> Self {
        Self { documents, store, clock, default_locale }
    }

    /// Renders template `id` for `body` (`{"data": {…}, "user": {…}, "locale": "it"}`, all
    /// optional) in its variant for `locale` (else for the configured default locale): the
    /// variant's key as `locale` (`null` for the base fields), and one entry per channel the
    /// template has content for — the content, or the error that channel's message would fail
    /// with.
    pub async fn preview(&self, tenant: &str, id: &str, body: &Value) -> Result<Value, EngineError> {
        let document = self.documents.get(Collection::Templates, tenant, id).await?;
        let stored: Template = Invalid::deserialize(Value::Object(document.body))?;
        let field = |name: &str| body.get(name).cloned().unwrap_or_else(|| json!({}));
        let (data, user) = (field("data"), field("user"));
        for (name, value) in [("data", &data), ("user", &user)] {
            if !value.is_object() {
                return Err(Invalid::new(name, "must be an object").into());
            }
        }
        let clinic = crate::lookups::tenant_variables(&self.store, tenant).await?;
        let tenant_locale = clinic.get("defaultLocale").and_then(Value::as_str).unwrap_or(&self.default_locale);
        let locale = body.get("locale").and_then(Value::as_str).unwrap_or(tenant_locale).to_string();
        let (template, chosen) = stored.localized(&[&locale, tenant_locale, &self.default_locale]);
        let input = RenderInput { data, user, tenant: clinic, now: self.clock.now(), locale };
        let rendered: Vec<Value> = render::preview(&template, &input)
            .into_iter()
            .map(|result| match result {
                Ok(content) => serde_json::to_value(content).expect("contents serialize"),
                Err(error) => json!({"error": error.to_string()}),
            })
            .collect();
        Ok(json!({"templateName": template.name, "locale": chosen, "rendered": rendered}))
    }
}
