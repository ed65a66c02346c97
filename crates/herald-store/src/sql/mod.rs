//! SQL text shared by both backends: a small builder that records bind values in order, and
//! the translation of filters and sort keys, which defers the JSON-specific parts to each
//! backend's [`Dialect`].

mod builder;
mod deferred;
mod filter;
pub(crate) mod inbox;
mod message_log;
pub(crate) mod store;

pub(crate) use builder::{Bind, Sql, chunked_statements, statement_chunks};
pub(crate) use deferred::{DeferredWrites, MessageSet};
pub(crate) use filter::{Dialect, push_filter, push_order};
pub(crate) use message_log::{LogRow, push_filter as push_log_filter, rows_of, upserts as upsert_log_rows};
