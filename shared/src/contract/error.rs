//! Why a stage could not decide: the cases of an event not found, a live check not made.
//! Nothing has been changed when one of these is returned, and a retry may succeed.

use crate::errors::AwsError;
use crate::events::EventError;
use crate::history::HistoryError;
use crate::members::Refusal;

/// Why the cases of an event could not be found.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Input(#[from] EventError),
    /// Listing what the event concerns failed: nothing was changed, a retry may succeed.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// A read a decision needs that cannot be made now. Nothing has been changed; a retry may
/// succeed.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The account's clients cannot be had (the member role cannot be assumed now).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A read that failed, as the module that made it wrote it: the AWS operation and the
    /// service's own words.
    #[error("{0}")]
    Read(String),
}

/// Why a live check could not be made. Nothing has been changed when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// What history recorded when the incident opened cannot be read back.
    #[error("the recorded state before is unreadable: {0}")]
    Recorded(#[from] serde_json::Error),
    /// The case is not of the kind this check was given: a bug, never acted on.
    #[error("{0}")]
    Mismatch(String),
}

impl From<AwsError> for VerifyError {
    fn from(e: AwsError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<HistoryError> for VerifyError {
    fn from(e: HistoryError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<Refusal> for VerifyError {
    fn from(e: Refusal) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<AwsError> for IntakeError {
    fn from(e: AwsError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<HistoryError> for IntakeError {
    fn from(e: HistoryError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<Refusal> for IntakeError {
    fn from(e: Refusal) -> Self {
        Self::Unavailable(e.into())
    }
}

impl VerifyError {
    /// A failed read, in its module's words.
    pub fn read(message: impl Into<String>) -> Self {
        Self::Unavailable(Unavailable::Read(message.into()))
    }
}
