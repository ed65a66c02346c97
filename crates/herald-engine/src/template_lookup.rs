//! Finding the template a message names, as seed 05 orders it: the tenant's own template, else
//! a system template, else a template file.
//!
//! - **System templates** are the templates of the tenant named [`SYSTEM_TENANT`] (`system`):
//!   create that tenant (`herald tenant create system`) and manage its templates with its keys
//!   over the same `/templates` API. Every tenant sees them; a tenant's template of the same
//!   name replaces one.
//! - **Template files** live in the configured `templates_dir`, read once at start (a change
//!   needs a restart, and a bad file stops the start with its name). The layout is seed 05's:
//!
//!   ```text
//!   templates_dir/email/{locale}/{name}.html   first line `Subject: …`, then the HTML (or MJML) body
//!   templates_dir/sms/{locale}/{name}.txt      the SMS body
//!   ```
//!
//!   `{locale}` is a language tag (`es`, `de-CH`) or `default`, whose files are the base
//!   fields; the others become the template's locale variants. The subject is the body file's
//!   first line rather than a sibling file so that each message in each language is one file.
//!   Files are Jinja2 (`syntax: jinja`), as seed 05's are; other files and folders are
//!   ignored.

use crate::EngineError;
use herald_core::Invalid;
use herald_core::query::{Filter, ListQuery};
use herald_core::render::MAX_OUTPUT;
use herald_core::resources::Collection;
use herald_core::resources::template::{self, Template};
use herald_store::Store;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The tenant whose templates every tenant falls back to.
pub const SYSTEM_TENANT: &str = "system";

/// The folder name of a template file's base fields.
const DEFAULT_LOCALE_FOLDER: &str = "default";

/// Finds templates by name for a tenant: its own, the system's, then the files'.
#[derive(Clone)]
pub struct TemplateLookup {
    store: Arc<dyn Store>,
    files: Arc<BTreeMap<String, Template>>,
}

impl TemplateLookup {
    /// A lookup over `store` and the template files in `folder`, which are read and checked
    /// now; the error names the file or template at fault.
    pub fn new(store: Arc<dyn Store>, folder: Option<&Path>) -> Result<Self, EngineError> {
        let files = match folder {
            Some(folder) => read_folder(folder)?,
            None => BTreeMap::new(),
        };
        Ok(Self { store, files: Arc::new(files) })
    }

    /// The template `name` as `tenant` sees it, or `None` when neither the tenant, the system
    /// tenant nor the folder has one. Pick its locale with [`Template::localized`].
    pub async fn find(&self, tenant: &str, name: &str) -> Result<Option<Template>, EngineError> {
        if let Some(found) = self.stored(tenant, name).await? {
            return Ok(Some(found));
        }
        if tenant != SYSTEM_TENANT
            && let Some(found) = self.stored(SYSTEM_TENANT, name).await?
        {
            return Ok(Some(found));
        }
        Ok(self.files.get(name).cloned())
    }

    /// The stored template `name` of `tenant`; one that no longer decodes (written under
    /// older rules) counts as missing, as in the engine's other reads.
    async fn stored(&self, tenant: &str, name: &str) -> Result<Option<Template>, EngineError> {
        let query = ListQuery::matching(Filter::equals("name", name), 1);
        let documents = self.store.find_documents(Collection::Templates, tenant, &query).await?;
        Ok(documents.into_iter().find_map(|d| serde_json::from_value(Value::Object(d.body)).ok()))
    }
}

/// The template files under `folder`, by name, each checked as a stored template would be.
fn read_folder(folder: &Path) -> Result<BTreeMap<String, Template>, EngineError> {
    let mut bodies: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (channel, extension) in [("email", "html"), ("sms", "txt")] {
        let channel_folder = folder.join(channel);
        if !channel_folder.is_dir() {
            continue;
        }
        for locale_folder in entries(&channel_folder)? {
            let Some(locale) = file_name(&locale_folder).filter(|_| locale_folder.is_dir()) else { continue };
            for file in entries(&locale_folder)? {
                let Some(name) = file_name(&file).and_then(|n| n.strip_suffix(extension)?.strip_suffix('.')) else { continue };
                let fields = file_fields(channel, &file)?;
                let body = bodies.entry(name.to_string()).or_insert_with(|| new_body(name));
                let target = if locale == DEFAULT_LOCALE_FOLDER {
                    body
                } else {
                    let locales = body.entry("locales").or_insert_with(|| json!({}));
                    let variant = locales.as_object_mut().expect("locales is an object").entry(locale).or_insert_with(|| json!({}));
                    variant.as_object_mut().expect("a variant is an object")
                };
                target.extend(fields);
            }
        }
    }
    bodies
        .into_iter()
        .map(|(name, body)| {
            let checked = template::validate(Value::Object(body)).and_then(|body| Invalid::deserialize(Value::Object(body)));
            checked
                .map(|template| (name.clone(), template))
                .map_err(|e| Invalid::new("templates_dir", format!("template {name}: {e}")).into())
        })
        .collect()
}

fn new_body(name: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("syntax".into(), json!("jinja"));
    body
}

/// The template fields one file holds.
fn file_fields(channel: &str, file: &Path) -> Result<Map<String, Value>, EngineError> {
    let problem = |reason: String| EngineError::from(Invalid::new("templates_dir", format!("{}: {reason}", file.display())));
    let size = std::fs::metadata(file).map_err(|e| problem(e.to_string()))?.len();
    if size > MAX_OUTPUT as u64 {
        return Err(problem(format!("is larger than {MAX_OUTPUT} bytes")));
    }
    let text = std::fs::read_to_string(file).map_err(|e| problem(e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut fields = Map::new();
    if channel == "sms" {
        fields.insert("smsMessage".into(), json!(text.trim_end()));
        return Ok(fields);
    }
    let (first, body) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first
        .get(..8)
        .filter(|prefix| prefix.eq_ignore_ascii_case("subject:"))
        .map(|_| first[8..].trim())
        .filter(|subject| !subject.is_empty())
        .ok_or_else(|| problem("the first line must be `Subject: …`".into()))?;
    fields.insert("emailTitle".into(), json!(subject));
    fields.insert("emailHtmlMessage".into(), json!(body.trim()));
    Ok(fields)
}

/// The entries of `folder`, sorted, so a start reads files in the same order.
fn entries(folder: &Path) -> Result<Vec<std::path::PathBuf>, EngineError> {
    let problem = |e: std::io::Error| EngineError::from(Invalid::new("templates_dir", format!("{}: {e}", folder.display())));
    let mut paths =
        std::fs::read_dir(folder).map_err(problem)?.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>().map_err(problem)?;
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|n| n.to_str()).filter(|n| !n.starts_with('.'))
}

#[cfg(test)]
mod tests;
