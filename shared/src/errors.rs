//! One way to write an error with its causes, for SDK errors and any other: the service's
//! own words are in the causes, and a person reading a notification needs them.

use aws_sdk_dynamodb::error::SdkError;

/// The full message of an SDK error, including the service's own words.
pub fn sdk_message<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    error_chain(err)
}

/// An error and every cause of it, in one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// An AWS call that failed or went unanswered: its operation, and the service's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn of<E, R>(operation: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self {
            operation,
            message: sdk_message(err),
        }
    }
}
