//! What the PostgreSQL store's failures say: the schema, what was being done, the cause; and
//! whether a failed write may have been applied.

use crate::saga::StoreError;
use std::error::Error;
use std::fmt;

/// A store failure: the schema, what was being done, and the cause.
#[derive(Debug)]
pub(super) struct Failure {
    schema: String,
    what: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl Failure {
    pub(super) fn new(
        schema: &str,
        what: impl Into<String>,
        source: Option<tokio_postgres::Error>,
    ) -> Self {
        Self {
            schema: schema.to_owned(),
            what: what.into(),
            source: source.map(|e| Box::new(e) as Box<dyn Error + Send + Sync>),
        }
    }

    pub(super) fn pool(schema: &str, what: &str, e: impl Error + Send + Sync + 'static) -> Self {
        Self {
            schema: schema.to_owned(),
            what: what.to_owned(),
            source: Some(Box::new(e)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres saga store `{}`: {}", self.schema, self.what)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// A statement that failed: if the server answered with an error, the statement (run on its
/// own, so in its own transaction) wrote nothing; if the connection failed while it was in
/// flight, it may have been committed.
pub(super) fn classify(
    schema: &str,
    what: &str,
    e: tokio_postgres::Error,
    write: bool,
) -> StoreError {
    let answered = e.as_db_error().is_some();
    let failure = Failure::new(schema, what, Some(e));
    if write && !answered {
        StoreError::outcome_unknown(failure)
    } else {
        StoreError::new(failure)
    }
}
