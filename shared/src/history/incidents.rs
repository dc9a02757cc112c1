//! Incident items: one per incident, written before anything changes and given its end
//! after (`INCIDENT#<resource>` / `<opened>#<delivery>`).

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::listing::{DAY, day_of};
use super::{History, HistoryError, Item, s};
use crate::time::rfc3339;

/// The state of an incident, as history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentStatus {
    /// Recorded before acting: the action is under way (or the function died during it).
    InProgress,
    Remediated,
    /// Acted, but some steps failed.
    Partial,
    Failed,
    /// The safeguard refused a slot: nothing was done.
    Held,
    /// Exempt resource or protected principal: nothing was done.
    Exempt,
    DryRun,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in-progress",
            Self::Remediated => "remediated",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Held => "held",
            Self::Exempt => "exempt",
            Self::DryRun => "dry-run",
        }
    }
}

/// One incident: what triggered it and the state before any change, so it can be undone.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// Its key within the resource's partition: `<opened RFC 3339>#<delivery>`.
    pub id: String,
    pub function: String,
    pub action: String,
    pub resource: String,
    /// The account and region the resource is in, for listings that span an organization.
    pub account: String,
    pub region: String,
    pub delivery_id: String,
    pub trigger: String,
    pub actor: Option<String>,
    pub opened_at: SystemTime,
    pub before: Value,
}

impl Incident {
    pub fn pk(&self) -> String {
        format!("INCIDENT#{}", self.resource)
    }
    pub fn sk(&self) -> String {
        self.id.clone()
    }

    /// The key of the incident of `resource` opened at `opened_at` by `delivery`: incidents
    /// sort by time, and the key alone names one incident (an event naming many resources
    /// opens many), so a person can paste it from a notification.
    pub fn key(opened_at: SystemTime, delivery: &str, resource: &str) -> String {
        format!("{}#{delivery}#{:08x}", rfc3339(opened_at), fnv1a(resource))
    }
}

/// A 32-bit FNV-1a hash: short, stable across builds and platforms, enough to tell apart the
/// resources of one event (a collision is met by the operator's command, which then asks for
/// the resource).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// An incident as read back from history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub sk: String,
    pub status: String,
    pub function: String,
    pub action: String,
    pub delivery_id: String,
    pub trigger: String,
    pub before: Value,
    pub steps: Value,
    pub actor: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
}

impl IncidentRecord {
    fn decode(item: &Item<'_>) -> Result<Self, HistoryError> {
        Ok(Self {
            sk: item.str("sk")?,
            status: item.str("status")?,
            function: item.str("function")?,
            action: item.str("action")?,
            delivery_id: item.str("delivery_id")?,
            trigger: item.str("trigger")?,
            before: item.json("before")?,
            steps: item.json("steps")?,
            actor: item.opt_str("actor"),
            account: item.opt_str("account"),
            region: item.opt_str("region"),
            opened_at: item.opt_str("opened_at"),
            closed_at: item.opt_str("closed_at"),
        })
    }
}

impl History {
    /// Writes an incident before anything changes, with the state before.
    pub async fn open_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
    ) -> Result<(), HistoryError> {
        let mut put = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(incident.pk()))
            .item("sk", s(incident.sk()))
            .item("status", s(status.as_str()))
            .item("function", s(&incident.function))
            .item("action", s(&incident.action))
            .item("delivery_id", s(&incident.delivery_id))
            .item("trigger", s(&incident.trigger))
            .item("before", s(incident.before.to_string()))
            .item("account", s(&incident.account))
            .item("region", s(&incident.region))
            .item(DAY, s(day_of(&incident.id)))
            .item("opened_at", s(rfc3339(incident.opened_at)));
        if let Some(actor) = &incident.actor {
            put = put.item("actor", s(actor));
        }
        put.send()
            .await
            .map_err(|e| self.err("PutItem (incident)", &e))?;
        Ok(())
    }

    /// Records an incident's outcome and the outcome of each step.
    pub async fn close_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
        steps: &Value,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(incident.pk()))
            .key("sk", s(incident.sk()))
            .update_expression("SET #status = :status, steps = :steps, closed_at = :closed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":steps", s(steps.to_string()))
            .expression_attribute_values(":closed", s(rfc3339(now)))
            .send()
            .await
            .map_err(|e| self.err("UpdateItem (incident)", &e))?;
        Ok(())
    }

    /// Every incident of a resource, oldest first.
    pub async fn incidents(&self, resource: &str) -> Result<Vec<IncidentRecord>, HistoryError> {
        self.partition(
            format!("INCIDENT#{resource}"),
            None,
            "Query (incidents)",
            IncidentRecord::decode,
        )
        .await
    }

    /// One incident of a resource, by its key.
    pub async fn incident(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<IncidentRecord>, HistoryError> {
        self.get(
            format!("INCIDENT#{resource}"),
            id,
            "GetItem (incident)",
            IncidentRecord::decode,
        )
        .await
    }
}
