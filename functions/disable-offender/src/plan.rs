//! What disabling an offender over the limit will do, from the live state: each kind's
//! module (`user`, `session`, `instance_session`) returns one [`Planned`], which `verify`
//! turns into the verdict.

use serde::Serialize;
use serde_json::Value;
use tourniquet::Verdict;

use crate::instance::Instance;
use crate::offender::Offender;
use crate::upstream::Upstream;

/// What to disable, with what it had before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disable {
    pub offender: Offender,
    /// The user's access keys that are active now.
    pub active_keys: Vec<String>,
    /// For a role in `sessions-before-now` mode: the sessions issued before this instant
    /// (RFC 3339) are denied.
    pub revoke_before: Option<String>,
    /// For a role session: the principal that assumed the role, disabled too.
    pub upstream: Option<Upstream>,
    /// For an instance's session: the instance, confirmed live with the role.
    pub instance: Option<Instance>,
    /// For an instance's session whose instance could not be confirmed: why.
    pub unconfirmed: Option<String>,
}

/// A disable to make, with the state before, the plan and the undo, for the notification.
pub(crate) struct Plan {
    pub disable: Disable,
    pub before: Value,
    pub plan: Vec<String>,
    pub undo: Vec<String>,
    /// Why the answer is narrower than the mode asks, for the notification.
    pub narrowed: Option<String>,
}

/// What the live state calls for.
pub(crate) enum Planned {
    Act(Plan),
    /// Nothing to disable: already done, or gone.
    Done(Verdict<Disable>),
}

/// A disable of `offender` alone; each kind adds what it needs.
pub(crate) fn disable(offender: &Offender) -> Disable {
    Disable {
        offender: offender.clone(),
        active_keys: Vec::new(),
        revoke_before: None,
        upstream: None,
        instance: None,
        unconfirmed: None,
    }
}
