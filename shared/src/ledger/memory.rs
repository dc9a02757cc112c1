//! The ledger in memory, for unit tests of the pipeline's decisions: the same semantics as
//! the table, one conditional transition per call.

use std::sync::Mutex;

use super::*;
use crate::history::{HistoryError, Incident, IncidentRecord, IncidentStatus};
use crate::time::{epoch_millis, rfc3339};
use serde_json::Value;
use std::collections::HashMap;
use std::time::SystemTime;

#[derive(Debug, Clone)]
struct LockItem {
    state: &'static str,
    open: OpenIncident,
    deliveries: Vec<String>,
    remediated: Option<String>,
    unsent: Option<String>,
    unsent_at: u64,
}

#[derive(Debug, Default)]
pub struct MemoryLedger {
    locks: Mutex<HashMap<(String, String), LockItem>>,
    pub incidents: Mutex<HashMap<(String, String), IncidentRecord>>,
    /// Fail every incident record write, as an unavailable table would.
    pub fail_records: bool,
}

impl MemoryLedger {
    /// A ledger whose incident records cannot be written.
    pub fn failing_records() -> Self {
        Self {
            fail_records: true,
            ..Self::default()
        }
    }

    fn with_lock<T>(
        &self,
        action: &str,
        resource: &str,
        f: impl FnOnce(&mut HashMap<(String, String), LockItem>, (String, String)) -> T,
    ) -> T {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut locks, (action.to_owned(), resource.to_owned()))
    }

    /// Applies `f` to the lock when it still belongs to `incident`.
    fn with_incident(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        f: impl FnOnce(&mut LockItem),
    ) {
        self.with_lock(action, resource, |locks, key| {
            if let Some(item) = locks.get_mut(&key)
                && item.open.incident == incident
            {
                f(item);
            }
        });
    }

    /// Whether the lock of a resource is open now.
    /// Time passes for the kept messages: they were kept `by` earlier.
    pub fn age_kept(&self, by: std::time::Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        for item in locks.values_mut() {
            item.unsent_at = item.unsent_at.saturating_sub(by);
        }
    }

    pub fn is_open(&self, action: &str, resource: &str) -> bool {
        self.with_lock(action, resource, |l, k| {
            l.get(&k).is_some_and(|i| i.state == OPEN)
        })
    }

    pub fn status(&self, resource: &str) -> Vec<String> {
        let incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = incidents
            .iter()
            .filter(|((r, _), _)| r == resource)
            .map(|(_, i)| i.status.clone())
            .collect();
        v.sort();
        v
    }
}

impl Ledger for MemoryLedger {
    async fn lock(&self, req: &LockRequest<'_>) -> Result<Lock, HistoryError> {
        let now_ms = epoch_millis(req.now);
        Ok(self.with_lock(req.action, req.resource, |locks, key| {
            let fresh = OpenIncident {
                incident: req.incident.to_owned(),
                delivery: req.delivery.to_owned(),
                lease_until_ms: epoch_millis(req.lease_until),
                target: req.target.clone(),
            };
            match locks.get_mut(&key) {
                Some(item)
                    if item.state == CLOSED
                        && !item.deliveries.iter().any(|d| d == req.delivery) =>
                {
                    item.state = OPEN;
                    item.open = fresh;
                    item.deliveries = vec![req.delivery.to_owned()];
                    Lock::Opened {
                        remediated: item.remediated.clone(),
                        left: item.unsent.take(),
                    }
                }
                Some(item) => decide(
                    item.state,
                    &item.deliveries,
                    item.open.clone(),
                    req.delivery,
                    now_ms,
                    item.unsent.clone(),
                ),
                None => {
                    locks.insert(
                        key,
                        LockItem {
                            state: OPEN,
                            open: fresh,
                            deliveries: vec![req.delivery.to_owned()],
                            remediated: None,
                            unsent: None,
                            unsent_at: 0,
                        },
                    );
                    Lock::Opened {
                        remediated: None,
                        left: None,
                    }
                }
            }
        }))
    }

    async fn keep_unsent(
        &self,
        action: &str,
        resource: &str,
        notification: &str,
    ) -> Result<(), HistoryError> {
        self.with_lock(action, resource, |locks, key| {
            if let Some(item) = locks.get_mut(&key) {
                item.unsent = Some(notification.to_owned());
                item.unsent_at = epoch_millis(SystemTime::now());
            }
        });
        Ok(())
    }

    async fn unsent(
        &self,
        action: &str,
        kept_before: SystemTime,
    ) -> Result<Vec<(String, String)>, HistoryError> {
        let before = epoch_millis(kept_before);
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Ok(locks
            .iter()
            .filter(|((a, _), i)| a == action && i.unsent_at < before)
            .filter_map(|((_, r), i)| Some((r.clone(), i.unsent.clone()?)))
            .collect())
    }

    async fn sent(&self, action: &str, resource: &str) -> Result<(), HistoryError> {
        self.with_lock(action, resource, |locks, key| {
            if let Some(item) = locks.get_mut(&key) {
                item.unsent = None;
            }
        });
        Ok(())
    }

    async fn take_over(
        &self,
        action: &str,
        resource: &str,
        abandoned: &OpenIncident,
        lease_until: SystemTime,
    ) -> Result<bool, HistoryError> {
        Ok(
            self.with_lock(action, resource, |locks, key| match locks.get_mut(&key) {
                Some(item) if item.state == OPEN && item.open == *abandoned => {
                    item.open.lease_until_ms = epoch_millis(lease_until);
                    true
                }
                _ => false,
            }),
        )
    }

    async fn join(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> Result<(), HistoryError> {
        self.with_incident(action, resource, incident, |item| {
            item.deliveries.push(delivery.to_owned());
        });
        Ok(())
    }

    async fn release(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        _outcome: &str,
        remediated: bool,
        outbox: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.with_incident(action, resource, incident, |item| {
            item.state = CLOSED;
            if remediated {
                item.remediated = Some(incident.to_owned());
            }
            if let Some(message) = outbox {
                item.unsent = Some(message.to_owned());
                item.unsent_at = epoch_millis(SystemTime::now());
            }
        });
        Ok(())
    }

    async fn forget(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> Result<(), HistoryError> {
        self.with_incident(action, resource, incident, |item| {
            item.state = CLOSED;
            item.deliveries.retain(|d| d != delivery);
        });
        Ok(())
    }

    async fn lapse(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        self.with_incident(action, resource, incident, |item| {
            item.open.lease_until_ms = epoch_millis(now);
        });
        Ok(())
    }

    async fn stale(
        &self,
        action: &str,
        now: SystemTime,
    ) -> Result<Vec<(String, OpenIncident)>, HistoryError> {
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Ok(locks
            .iter()
            .filter(|((a, _), i)| {
                a == action && i.state == OPEN && i.open.lease_until_ms < epoch_millis(now)
            })
            .map(|((_, r), i)| (r.clone(), i.open.clone()))
            .collect())
    }

    async fn open_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
    ) -> Result<(), HistoryError> {
        if self.fail_records {
            return Err(HistoryError::Dynamo {
                table: "memory".into(),
                operation: "PutItem (incident)",
                message: "unavailable".into(),
            });
        }
        let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        incidents.insert(
            (incident.resource.clone(), incident.sk()),
            IncidentRecord {
                sk: incident.sk(),
                status: status.as_str().to_owned(),
                function: incident.function.clone(),
                action: incident.action.clone(),
                delivery_id: incident.delivery_id.clone(),
                trigger: incident.trigger.clone(),
                before: incident.before.clone(),
                steps: Value::Null,
                actor: incident.actor.clone(),
                account: Some(incident.account.clone()),
                region: Some(incident.region.clone()),
                opened_at: Some(rfc3339(incident.opened_at)),
                closed_at: None,
            },
        );
        Ok(())
    }

    async fn close_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
        steps: &Value,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = incidents.get_mut(&(incident.resource.clone(), incident.sk())) {
            r.status = status.as_str().to_owned();
            r.steps = steps.clone();
            r.closed_at = Some(rfc3339(now));
        }
        Ok(())
    }

    async fn incident(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<IncidentRecord>, HistoryError> {
        let incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        Ok(incidents
            .get(&(resource.to_owned(), id.to_owned()))
            .cloned())
    }
}
