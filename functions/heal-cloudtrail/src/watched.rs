//! What heal-cloudtrail watches (a trail or an event data store), and what healing one takes.

use serde::{Deserialize, Serialize};
use tourniquet::Case;
use tourniquet_trail::{TrailConfig, TrailRef};

use crate::store::{Ingestion, StoreRef};

/// What heal-cloudtrail watches: a trail, or a CloudTrail Lake event data store. Untagged,
/// so that an open incident recorded as a bare trail still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Watched {
    Trail(TrailRef),
    Store(StoreRef),
}

impl Watched {
    pub(crate) fn case(self) -> Case<Self> {
        let resource = match &self {
            Self::Trail(t) => t.arn.clone(),
            Self::Store(s) => s.store_arn.clone(),
        };
        Case {
            resource,
            target: self,
        }
    }
}

/// What healing a trail takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Heal {
    /// An event data store stopped or pending deletion: restore it and start its ingestion.
    Ingestion { store: StoreRef, live: Ingestion },
    /// The trail is gone: create it again from its baseline and start logging.
    Recreate { baseline: TrailConfig },
    /// The trail is weaker than its baseline: restore what differs.
    Restore {
        live: Box<TrailConfig>,
        baseline: Box<TrailConfig>,
    },
    /// Logging is off and there is no baseline to compare the rest with (none is known, or
    /// history cannot be reached).
    StartLogging { live: TrailConfig },
}
