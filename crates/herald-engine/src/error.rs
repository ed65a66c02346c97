use herald_core::Invalid;
use herald_store::StoreError;

/// Why an engine operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input breaks a rule; nothing was changed.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No such thing in this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken in this tenant.
    #[error("{field}: another {what} already has this value")]
    Conflict {
        /// What kind of thing.
        what: &'static str,
        /// Which of its fields must be unique.
        field: &'static str,
    },
    /// Others kept changing the same document; the caller may retry.
    #[error("the {0} is being changed concurrently; retry")]
    Contended(&'static str),
    /// The request is well-formed but cannot be honoured as it stands (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Another request holds what this one needs; retry shortly (409).
    #[error("{0}")]
    Busy(&'static str),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller could not be identified.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Storage failed; details are for the logs only.
    #[error("storage failed: {0}")]
    Store(StoreError),
    /// The files service's object store failed; details are for the logs only.
    #[error("file storage failed: {0}")]
    Files(object_store::Error),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(invalid) => EngineError::Invalid(invalid),
            other => EngineError::Store(other),
        }
    }
}
