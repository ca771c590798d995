//! How the engine meets PostgreSQL's answers: waiting for one from any thread, its errors as
//! the store's, and which of them a transaction run again can get past.

use tokio_postgres::error::SqlState;

use crate::store::Error;

/// Waits for a request to a connection. The connection's task does the I/O on its own runtime,
/// so this only waits on a channel, from any thread.
pub(super) fn wait<F: std::future::Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

/// PostgreSQL's error, as the store's: the condition and PostgreSQL's message, never its
/// detail (which may quote a row's values).
pub(super) fn error(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Database(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Database(e.to_string()),
    }
}

/// Whether PostgreSQL refused a statement only because of another transaction: running the
/// transaction again can succeed.
pub(super) fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}
