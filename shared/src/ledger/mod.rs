//! The incident lock and its lease: one open incident per action and resource.
//!
//! A lock item (`LOCK#<action>` / `<resource>`) is opened by the first trigger for a resource
//! with one conditional write, in the pipeline's first round. While it is open, another
//! trigger for the resource joins the incident; once its lease has run out (the invocation
//! that opened it died), the next trigger, or the periodic sweep, takes it over and resumes
//! the incident from the state recorded when it opened. The deliveries that belong to an
//! incident stay on the item after it closes, so a redelivery is still a duplicate.
//!
//! The pipeline sees history only through [`Ledger`] (and the pager through
//! [`crate::notify::Pager`]), so that its decisions are unit-tested against the in-memory
//! twin in `memory.rs`; `dynamo.rs` is the DynamoDB adapter.

mod dynamo;
#[cfg(test)]
pub mod memory;

use std::future::Future;
use std::time::SystemTime;

use serde_json::Value;

use crate::history::{HistoryError, Incident, IncidentRecord, IncidentStatus};

/// What the first round asks: open an incident for this resource.
#[derive(Debug, Clone)]
pub struct LockRequest<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub function: &'a str,
    pub delivery: &'a str,
    /// The incident's key in history (`INCIDENT#<resource>` / this).
    pub incident: &'a str,
    /// The case's target, for a sweep that resumes the incident without the event.
    pub target: &'a Value,
    pub now: SystemTime,
    pub lease_until: SystemTime,
}

/// An open incident, as its lock records it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    pub incident: String,
    /// The delivery that opened it.
    pub delivery: String,
    pub lease_until_ms: u64,
    pub target: Value,
}

/// What the lock said to a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Lock {
    /// This trigger opened a new incident. `remediated` names the last incident that
    /// remediated the resource, if any: Tourniquet's own memory, never a tag. `left` is the
    /// message the last incident kept and never sent (its invocation died, and its retry did
    /// not come first): the opening takes it off the lock, to be sent now.
    Opened {
        remediated: Option<String>,
        left: Option<String>,
    },
    /// This delivery was seen already. `unsent` is a notification of it that SNS refused,
    /// kept for this retry to send.
    Duplicate { unsent: Option<String> },
    /// Another trigger's incident is open and alive.
    Joined { incident: String },
    /// The incident this delivery opened is open and its lease alive: the invocation that
    /// holds it may still finish it, or may have died. Answered with an error, so that Lambda
    /// retries the delivery (which resumes it once the lease runs out), never a duplicate.
    InFlight { incident: String },
    /// An incident is open but its lease ran out: its invocation died.
    Stale(OpenIncident),
}

/// History as the pipeline uses it: the lock, the lease and the incident records.
pub trait Ledger: Sync {
    fn lock(
        &self,
        req: &LockRequest<'_>,
    ) -> impl Future<Output = Result<Lock, HistoryError>> + Send;
    /// Takes an abandoned incident over; false when another invocation took it first.
    fn take_over(
        &self,
        action: &str,
        resource: &str,
        abandoned: &OpenIncident,
        lease_until: SystemTime,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Remembers a joining delivery, so that its redelivery is a duplicate.
    fn join(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Closes the incident's lock with its outcome; `remediated` marks the resource as
    /// remediated by this incident. `outbox`, the message a person must get, is kept on the
    /// lock in the same write, until [`Ledger::sent`]: a close is never unsaid.
    fn release(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        outcome: &str,
        remediated: bool,
        outbox: Option<&str>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Closes a lock under which nothing was done, and forgets the delivery, so that
    /// Lambda's retry of it acts.
    fn forget(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Keeps a notification SNS refused on the resource's lock, for the retry of the
    /// delivery to send.
    fn keep_unsent(
        &self,
        action: &str,
        resource: &str,
        notification: &str,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// The notifications kept before `kept_before`, by resource: those of an invocation that
    /// died or was refused, not those of one still between its close and its publish.
    fn unsent(
        &self,
        action: &str,
        kept_before: SystemTime,
    ) -> impl Future<Output = Result<Vec<(String, String)>, HistoryError>> + Send;
    /// The kept notification was sent.
    fn sent(
        &self,
        action: &str,
        resource: &str,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Ends the lease now, the incident still open: the next trigger resumes it at once.
    fn lapse(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Open incidents of an action whose lease ran out, by resource.
    fn stale(
        &self,
        action: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<(String, OpenIncident)>, HistoryError>> + Send;
    fn open_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    fn close_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
        steps: &Value,
        now: SystemTime,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    fn incident(
        &self,
        resource: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<IncidentRecord>, HistoryError>> + Send;
}

pub(crate) const OPEN: &str = "open";
pub(crate) const CLOSED: &str = "closed";

/// What an existing lock item means for `delivery` at `now_ms`.
pub(crate) fn decide(
    state: &str,
    deliveries: &[String],
    open: OpenIncident,
    delivery: &str,
    now_ms: u64,
    unsent: Option<String>,
) -> Lock {
    if state == OPEN && open.lease_until_ms <= now_ms {
        return Lock::Stale(open);
    }
    if state == OPEN && open.delivery == delivery {
        return Lock::InFlight {
            incident: open.incident,
        };
    }
    if deliveries.iter().any(|d| d == delivery) {
        return Lock::Duplicate { unsent };
    }
    Lock::Joined {
        incident: open.incident,
    }
}
