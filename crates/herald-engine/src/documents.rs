//! The CRUD collections, with the CRUD service's semantics.

use crate::EngineError;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::{Document, strip_system_fields};
use herald_core::id::{is_document_id, new_document_id};
use herald_core::query::{Filter, ListQuery, Update};
use herald_core::resources::Collection;
use herald_store::{Store, StoreError, Upserted};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Who is acting: an API key (`apikey:<id>`) or an end user (their id). Recorded as
/// `creatorId` / `updaterId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The tenant acted in.
    pub tenant: String,
    /// The id recorded on the documents it writes.
    pub id: String,
}

/// The CRUD collections of every tenant.
#[derive(Clone)]
pub struct Documents {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_page: u32,
    max_bulk: usize,
}

/// How many times a PATCH re-reads and re-applies when a concurrent writer got there first.
const PATCH_ATTEMPTS: usize = 5;

impl Documents {
    /// Serves lists of at most `max_page` documents and bulk writes of at most `max_bulk`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, max_page: u32, max_bulk: usize) -> Self {
        Self { store, clock, max_page, max_bulk }
    }

    /// Creates a document from a client body (system fields in it are ignored).
    pub async fn create(&self, collection: Collection, actor: &Actor, body: Value) -> Result<Document, EngineError> {
        let document = self.new_document(collection, actor, body)?;
        self.store
            .insert_documents(collection, &actor.tenant, std::slice::from_ref(&document))
            .await
            .map_err(|e| conflict(collection, e))?;
        Ok(document)
    }

    fn new_document(&self, collection: Collection, actor: &Actor, body: Value) -> Result<Document, EngineError> {
        let Value::Object(mut body) = body else {
            return Err(Invalid::new("", "the body must be a JSON object").into());
        };
        strip_system_fields(&mut body);
        let body = collection.validate(body)?;
        let now = self.clock.now();
        Ok(Document::new(new_document_id(now), body, now, &actor.id))
    }

    /// Inserts or updates many documents by the collection's unique field, all or none. Every
    /// item is validated first; the first invalid one is reported by its index.
    pub async fn upsert_many(&self, collection: Collection, actor: &Actor, items: Value) -> Result<Vec<Upserted>, EngineError> {
        let Value::Array(items) = items else {
            return Err(Invalid::new("", "the body must be a JSON array").into());
        };
        if items.is_empty() || items.len() > self.max_bulk {
            return Err(Invalid::new("", format!("must hold between 1 and {} items", self.max_bulk)).into());
        }
        let documents = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| self.new_document(collection, actor, item).map_err(|e| within(e, &format!("[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(field) = collection.unique_field() {
            let mut seen = std::collections::HashSet::new();
            for (i, document) in documents.iter().enumerate() {
                if let Some(key) = document.body.get(field).and_then(Value::as_str)
                    && !seen.insert(key)
                {
                    return Err(Invalid::new(format!("[{i}].{field}"), "appears twice in this request").into());
                }
            }
        }
        self.store.upsert_documents(collection, &actor.tenant, &documents).await.map_err(|e| conflict(collection, e))
    }

    /// One document by `_id`.
    pub async fn get(&self, collection: Collection, tenant: &str, document_id: &str) -> Result<Document, EngineError> {
        if !is_document_id(document_id) {
            return Err(EngineError::NotFound(singular(collection)));
        }
        self.store.get_document(collection, tenant, document_id).await?.ok_or(EngineError::NotFound(singular(collection)))
    }

    /// The documents a CRUD list request selects, projected as asked.
    pub async fn list<'a>(
        &self,
        collection: Collection,
        tenant: &str,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Value>, EngineError> {
        let query = ListQuery::from_params(params, self.max_page)?;
        self.list_query(collection, tenant, &query).await
    }

    /// The documents a parsed list query selects, projected as asked.
    pub async fn list_query(&self, collection: Collection, tenant: &str, query: &ListQuery) -> Result<Vec<Value>, EngineError> {
        let documents = self.store.find_documents(collection, tenant, query).await?;
        Ok(documents.iter().map(|d| query.projection.as_deref().map_or_else(|| d.to_json(), |p| d.project(p))).collect())
    }

    /// How many documents a CRUD count request selects.
    pub async fn count<'a>(
        &self,
        collection: Collection,
        tenant: &str,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<u64, EngineError> {
        let filter: Filter = ListQuery::filter_from_params(params)?;
        Ok(self.store.count_documents(collection, tenant, &filter).await?)
    }

    /// Applies a PATCH body (update operators, or a plain object meaning `$set`) and
    /// re-validates the whole document. Retries when a concurrent writer changed it meanwhile.
    pub async fn patch(&self, collection: Collection, actor: &Actor, document_id: &str, body: &Value) -> Result<Document, EngineError> {
        let update = Update::parse(body)?;
        self.patch_with(collection, actor, document_id, &update).await
    }

    /// Applies a parsed update; see [`Documents::patch`].
    pub async fn patch_with(
        &self,
        collection: Collection,
        actor: &Actor,
        document_id: &str,
        update: &Update,
    ) -> Result<Document, EngineError> {
        for _ in 0..PATCH_ATTEMPTS {
            let current = self.get(collection, &actor.tenant, document_id).await?;
            let mut body: Map<String, Value> = current.body.clone();
            update.apply(&mut body)?;
            let body = collection.validate(body)?;
            let next =
                Document { body, updated_at: self.clock.now(), updater_id: actor.id.clone(), revision: current.revision + 1, ..current };
            if self.store.replace_document(collection, &actor.tenant, &next, current.revision).await.map_err(|e| conflict(collection, e))? {
                return Ok(next);
            }
        }
        Err(EngineError::Contended(singular(collection)))
    }

    /// Deletes a document.
    pub async fn delete(&self, collection: Collection, tenant: &str, document_id: &str) -> Result<(), EngineError> {
        let found = is_document_id(document_id) && self.store.delete_document(collection, tenant, document_id).await?;
        if found { Ok(()) } else { Err(EngineError::NotFound(singular(collection))) }
    }
}

/// The name of one document of a collection, for messages.
pub fn singular(collection: Collection) -> &'static str {
    match collection {
        Collection::Users => "user",
        Collection::Templates => "template",
        Collection::NotificationSettings => "notification setting",
        Collection::EventSettings => "event setting",
        Collection::Events => "event",
        Collection::Notifications => "notification",
        Collection::Providers => "provider",
    }
}

fn conflict(collection: Collection, error: StoreError) -> EngineError {
    match error {
        StoreError::Conflict { field } => EngineError::Conflict { what: singular(collection), field },
        other => other.into(),
    }
}

fn within(error: EngineError, parent: &str) -> EngineError {
    match error {
        EngineError::Invalid(invalid) => EngineError::Invalid(invalid.within(parent)),
        other => other,
    }
}
