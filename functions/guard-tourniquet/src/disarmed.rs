//! A disarmed resource: what was found, and what of it can be put back. The verify stage
//! makes one, the act stage puts it back.

use tourniquet_trail::key::KeyState;

use crate::lambdas::FunctionRecord;
use crate::rules::RuleRecord;

/// What can be put back of a disarmed resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// Enabled, matching and delivering as recorded (created again when deleted).
    Rule {
        name: String,
        live: Option<RuleRecord>,
        record: Option<RuleRecord>,
    },
    /// Reserved concurrency back to the record, or unreserved.
    Concurrency {
        name: String,
        record: Option<FunctionRecord>,
    },
    /// Deletion cancelled and the key enabled.
    Key { live: KeyState },
}

/// A disarmed resource: what was found, and the repair.
#[derive(Debug, Clone, PartialEq)]
pub struct Disarmed {
    pub repair: Repair,
    pub findings: Vec<String>,
}

/// The state a Tourniquet key must have: enabled. Its policy is the stack's to keep.
pub(crate) fn enabled(live: &KeyState) -> KeyState {
    KeyState {
        state: "Enabled".to_owned(),
        policy: None,
        unreadable: None,
        ..live.clone()
    }
}
