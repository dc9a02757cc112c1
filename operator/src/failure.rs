//! How a command fails, and the exit status each way maps to: 1 refused or failed, 2 bad
//! usage or input. The reason goes to stderr.

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line or an argument cannot be used: nothing was read or changed.
    #[error("{0}")]
    Usage(String),
    /// The argument names nothing history knows: bad input, nothing was changed.
    #[error("{0}")]
    Unknown(String),
    /// Tourniquet's history, or AWS, answered no or could not be read.
    #[error("{0}")]
    Failed(String),
}

impl Failure {
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Unknown(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

impl From<tourniquet::history::HistoryError> for Failure {
    fn from(e: tourniquet::history::HistoryError) -> Self {
        Self::Failed(e.to_string())
    }
}
