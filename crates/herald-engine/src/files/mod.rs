//! The files service (seed 01): files uploaded once per tenant and attached to emails by
//! reference — from a template's `emailAttachments` and from `POST /send`'s.
//!
//! Metadata is a row in the store (name unique per tenant, checked content type, size,
//! SHA-256, who and when); the bytes are in the object store under `<tenant>/<id>`. An upload
//! writes the bytes first and the row second, so a file that can be listed can be read; a
//! delete removes the row first, so a file that is gone is never attached half-way.
//!
//! A reference is a file's id (the files service's `file`) or, failing that, its name. A send
//! resolves its references once, at acceptance, and keeps the ids on its email messages, so a
//! file deleted afterwards fails the message instead of attaching another file that took its
//! name. A template's references are resolved when each email is prepared.

mod storage;

pub use storage::{FilesConfig, StoreKind};

use crate::EngineError;
use crate::documents::Actor;
use herald_channels::Attachment;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::files::{ContentRefused, MAX_ATTACHMENTS_BYTES, check_content, check_name};
use herald_core::id::new_document_id;
use herald_core::resources::template;
use herald_store::{FileRecord, Store, StoreError};
use jiff::Timestamp;
use object_store::ObjectStore;
use object_store::path::Path;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Most files one list request returns.
pub const MAX_PAGE: u32 = 200;

/// Stores, lists, reads and deletes a tenant's files.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn Store>,
    objects: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    max_file_bytes: u64,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The name or the form is wrong.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The file is larger than `files.max_file_bytes`.
    #[error("file: larger than the {0} bytes a file may have")]
    TooLarge(u64),
    /// The content type is not accepted, or the content is not of that type.
    #[error(transparent)]
    Refused(#[from] ContentRefused),
    /// Anything else (a taken name, storage).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Files {
    /// The files service over `store` (metadata) and `objects` (bytes).
    pub fn new(store: Arc<dyn Store>, objects: Arc<dyn ObjectStore>, clock: Arc<dyn Clock>, max_file_bytes: u64) -> Self {
        Self { store, objects, clock, max_file_bytes }
    }

    /// Largest file accepted, in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Stores `content` as `name`, declared as `declared_type` (a `Content-Type` value, if the
    /// upload carried one); the name must be free in the tenant.
    pub async fn upload(
        &self,
        actor: &Actor,
        name: &str,
        declared_type: Option<&str>,
        content: Vec<u8>,
    ) -> Result<FileRecord, UploadError> {
        check_name(name)?;
        if content.is_empty() {
            return Err(Invalid::new("file", "is empty").into());
        }
        if content.len() as u64 > self.max_file_bytes {
            return Err(UploadError::TooLarge(self.max_file_bytes));
        }
        let content_type = check_content(declared_type, &content)?;
        if self.store.find_file_by_name(&actor.tenant, name).await.map_err(EngineError::from)?.is_some() {
            return Err(name_taken().into());
        }
        let now = self.clock.now();
        let record = FileRecord {
            tenant: actor.tenant.clone(),
            id: new_document_id(now),
            name: name.to_string(),
            content_type,
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(&content)),
            created_at: now,
            creator_id: actor.id.clone(),
        };
        let path = object_path(&record.tenant, &record.id);
        self.objects.put(&path, content.into()).await.map_err(EngineError::Files)?;
        if let Err(error) = self.store.insert_file(&record).await {
            if let Err(cleanup) = self.objects.delete(&path).await {
                tracing::warn!(error = %cleanup, %path, "the bytes of a refused upload could not be removed");
            }
            return Err(match error {
                StoreError::Conflict { .. } => name_taken(),
                other => other.into(),
            }
            .into());
        }
        Ok(record)
    }

    /// One file's metadata.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<FileRecord, EngineError> {
        self.store.get_file(tenant, id).await?.ok_or(EngineError::NotFound("file"))
    }

    /// Page `page` (from 1) of `limit` files uploaded at or after `since`, oldest first.
    pub async fn list(&self, tenant: &str, since: Option<Timestamp>, limit: u32, page: u32) -> Result<Vec<FileRecord>, EngineError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Invalid::new("limit", format!("must be between 1 and {MAX_PAGE}")).into());
        }
        if page == 0 {
            return Err(Invalid::new("page", "starts at 1").into());
        }
        Ok(self.store.list_files(tenant, since, limit, u64::from(page - 1) * u64::from(limit)).await?)
    }

    /// A file's metadata and bytes.
    pub async fn download(&self, tenant: &str, id: &str) -> Result<(FileRecord, Vec<u8>), EngineError> {
        let record = self.get(tenant, id).await?;
        let content = self.read(&record).await?.ok_or(EngineError::NotFound("file"))?;
        Ok((record, content))
    }

    /// Deletes a file: its metadata at once, then its bytes (a failure there is logged; the
    /// file is gone for every reader either way).
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<(), EngineError> {
        if !self.store.delete_file(tenant, id).await? {
            return Err(EngineError::NotFound("file"));
        }
        let path = object_path(tenant, id);
        match self.objects.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => tracing::error!(%error, %path, "a deleted file's bytes could not be removed; remove them by hand"),
        }
        Ok(())
    }

    /// The files an email carries, read: its template's `emailAttachments` (by id or name) and
    /// its own (`Message::attachments`, by id), each file once; the reason, when one is gone or
    /// together they exceed what an email may carry.
    pub async fn read_attachments(
        &self,
        tenant: &str,
        from_template: &[template::Attachment],
        from_message: &[template::Attachment],
    ) -> Result<Result<Vec<Attachment>, String>, EngineError> {
        let mut records: Vec<FileRecord> = Vec::new();
        for (i, reference) in from_template.iter().enumerate() {
            match find(self.store.as_ref(), tenant, &reference.file).await? {
                Some(record) => records.push(record),
                None => return Ok(Err(format!("the template's attachment {i} is not a stored file"))),
            }
        }
        for reference in from_message {
            match self.store.get_file(tenant, &reference.file).await? {
                Some(record) => records.push(record),
                None => return Ok(Err(format!("the attachment {} was deleted after the message was accepted", reference.file))),
            }
        }
        dedup(&mut records);
        if let Err(invalid) = check_total(&records) {
            return Ok(Err(invalid.reason));
        }
        let mut attachments = Vec::with_capacity(records.len());
        for record in records {
            let Some(content) = self.read(&record).await? else {
                return Ok(Err(format!("the attachment {} was deleted after the message was accepted", record.id)));
            };
            attachments.push(Attachment { filename: record.name, content_type: record.content_type, content });
        }
        Ok(Ok(attachments))
    }

    /// A file's bytes; `None` when they are gone.
    async fn read(&self, record: &FileRecord) -> Result<Option<Vec<u8>>, EngineError> {
        let path = object_path(&record.tenant, &record.id);
        match self.objects.get(&path).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(EngineError::Files)?.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(EngineError::Files(error)),
        }
    }
}

/// Resolves a send's attachments at acceptance: its template's `emailAttachments` and the
/// request's `emailAttachments`, each a stored file of the tenant (by id, else by name) and
/// together within what one email may carry. Answers the files, each once, as the send's
/// messages keep them (`{"file": id, "name": name}`).
pub async fn accept_attachments(
    store: &dyn Store,
    tenant: &str,
    from_template: &[template::Attachment],
    from_request: &[String],
) -> Result<Vec<template::Attachment>, EngineError> {
    let mut template_files = Vec::new();
    for (i, reference) in from_template.iter().enumerate() {
        let found = find(store, tenant, &reference.file).await?;
        template_files
            .push(found.ok_or_else(|| Invalid::new("templateId", format!("the template's emailAttachments[{i}] is not a stored file")))?);
    }
    let mut request_files = Vec::new();
    for (i, reference) in from_request.iter().enumerate() {
        let found = find(store, tenant, reference).await?;
        request_files.push(found.ok_or_else(|| Invalid::new(format!("emailAttachments[{i}]"), "is not a stored file"))?);
    }
    let mut all: Vec<FileRecord> = template_files.into_iter().chain(request_files.iter().cloned()).collect();
    dedup(&mut all);
    check_total(&all)?;
    dedup(&mut request_files);
    Ok(request_files
        .into_iter()
        .map(|record| {
            let mut extra = Map::new();
            extra.insert("name".into(), Value::String(record.name));
            template::Attachment { file: record.id, extra }
        })
        .collect())
}

/// A tenant's file by id, else by name.
async fn find(store: &dyn Store, tenant: &str, reference: &str) -> Result<Option<FileRecord>, EngineError> {
    if let Some(found) = store.get_file(tenant, reference).await? {
        return Ok(Some(found));
    }
    Ok(store.find_file_by_name(tenant, reference).await?)
}

/// Keeps the first of each file.
fn dedup(records: &mut Vec<FileRecord>) {
    let mut seen = std::collections::HashSet::new();
    records.retain(|record| seen.insert(record.id.clone()));
}

/// Whether `records` fit in one email.
fn check_total(records: &[FileRecord]) -> Result<(), Invalid> {
    let total: u64 = records.iter().map(|r| r.size).sum();
    if total > MAX_ATTACHMENTS_BYTES {
        return Err(Invalid::new(
            "emailAttachments",
            format!("the attachments add up to {total} bytes; an email may carry at most {MAX_ATTACHMENTS_BYTES} (15 MiB)"),
        ));
    }
    Ok(())
}

fn name_taken() -> EngineError {
    EngineError::Conflict { what: "file", field: "name" }
}

/// Where a file's bytes are.
fn object_path(tenant: &str, id: &str) -> Path {
    Path::from_iter([tenant, id])
}
