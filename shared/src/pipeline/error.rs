//! Why an invocation answers with a function error: so that Lambda retries it and, in the
//! end, hands it to the on-failure destination.

use crate::events::EventError;

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("rejected input: {0}")]
    Input(#[from] EventError),
    #[error("could not check the live state, nothing was changed, retry: {0}")]
    Retry(String),
    #[error("out of time before the action was confirmed, the incident stays open: {0}")]
    Unfinished(String),
}

impl HandleError {
    /// The error's name in Lambda's `errorType`, as a person reads it in a dead-letter queue.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Input(_) => "RejectedInput",
            Self::Retry(_) => "RetryLater",
            Self::Unfinished(_) => "UnfinishedRetryResumes",
        }
    }
}

impl From<HandleError> for lambda_runtime::Diagnostic {
    fn from(e: HandleError) -> Self {
        Self {
            error_type: e.kind().to_owned(),
            error_message: e.to_string(),
        }
    }
}
