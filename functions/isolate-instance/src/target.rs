//! What a case carries through the pipeline: the instance read ahead with its event, and the
//! live instance with Tourniquet's groups once verified.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::groups::Known;
use crate::instance::Instance;

/// What the event's one read found for a case, moments before (an event naming many
/// instances), or nothing: the case reads its instance itself. Never kept in history: a
/// resumed incident reads the live state again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen(pub Option<Arc<(Instance, Known)>>);

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Self(None))
    }
}

/// The live instance to isolate, and Tourniquet's groups as history and the live state
/// know them.
#[derive(Debug, Clone)]
pub struct Target {
    pub instance: Instance,
    pub groups: Known,
}

impl Target {
    /// Every interface in the VPC's quarantine group (Tourniquet's own, rule-less) and
    /// nothing else. The status tag is never believed: the instance may tag itself.
    pub fn quarantined(&self) -> Option<String> {
        let inst = &self.instance;
        let vpc = inst.vpc_id.as_deref()?;
        // Tourniquet's own quarantine group, still without a rule.
        let group = self.groups.quarantine(vpc)?;
        if !(group.ingress.is_empty() && group.egress.is_empty()) {
            return None;
        }
        let quarantine = &group.id;
        let all = !inst.interfaces.is_empty()
            && inst
                .interfaces
                .iter()
                .all(|eni| matches!(eni.groups.as_slice(), [g] if g == quarantine));
        all.then(|| {
            format!(
                "{} is already quarantined: every interface is in {quarantine}",
                inst.id
            )
        })
    }
}
