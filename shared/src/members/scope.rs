//! Where a resource lives (an account and a region), and why Tourniquet may not act there.

use serde::{Deserialize, Serialize};

use crate::arn::{Arn, is_account};

/// An account and a region: where a resource lives and where calls about it go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }

    /// The account and region an ARN names. A global resource's ARN (IAM) names no region:
    /// `region` stands in.
    pub fn of_arn(arn: &str, region: &str) -> Option<Self> {
        let arn = Arn::parse(arn).filter(|a| is_account(a.account))?;
        let region = if arn.region.is_empty() {
            region
        } else {
            arn.region
        };
        Some(Self::new(arn.account, region))
    }

    /// `account 111122223333, eu-west-1`, for people.
    pub fn describe(&self) -> String {
        format!("account {}, {}", self.account, self.region)
    }
}

/// Why Tourniquet does not act in an account. Nothing is changed there; a person is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "account {0} is not this deployment's own, and MEMBER_ROLE_NAME is not set: Tourniquet acts in its own account only"
    )]
    OneAccount(String),
    #[error("account {0} is not in MEMBER_ACCOUNTS")]
    NotListed(String),
    #[error("{0:?} is not an account id")]
    NotAnAccount(String),
    #[error("the member role {role} cannot be assumed: {error}")]
    CannotAssume { role: String, error: String },
    /// STS did not answer, or throttled: nothing is refused, the delivery is retried.
    #[error("the member role {role} could not be assumed now: {error}")]
    Unreachable { role: String, error: String },
}

impl Refusal {
    /// Whether a retry may succeed: the event is retried rather than refused.
    pub fn transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}
