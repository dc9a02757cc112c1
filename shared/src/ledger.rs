//! The incident lock and its lease: one open incident per action and resource.
//!
//! A lock item (`LOCK#<action>` / `<resource>`) is opened by the first trigger for a resource
//! with one conditional write, in the pipeline's first round. While it is open, another
//! trigger for the resource joins the incident; once its lease has run out (the invocation
//! that opened it died), the next trigger, or the periodic sweep, takes it over and resumes
//! the incident from the state recorded when it opened. The deliveries that belong to an
//! incident stay on the item after it closes, so a redelivery is still a duplicate.
//!
//! The pipeline sees history and the pager only through [`Ledger`] and [`Pager`], so that its
//! decisions are unit-tested against an in-memory twin.

use std::collections::HashMap;
use std::future::Future;
use std::time::SystemTime;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde_json::Value;

use crate::history::{
    History, HistoryError, Incident, IncidentRecord, IncidentStatus, condition_failed,
    epoch_millis, n, s,
};
use crate::notify::{Notification, Notifier, NotifyError};

/// Margin on top of an invocation's deadline before its open incident counts as abandoned.
/// Lambda retries a failed asynchronous invocation a minute later at the earliest.
pub const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// remediated the resource, if any: Tourniquet's own memory, never a tag.
    Opened { remediated: Option<String> },
    /// This delivery was seen already. `unsent` is a notification of it that SNS refused,
    /// kept for this retry to send.
    Duplicate { unsent: Option<String> },
    /// Another trigger's incident is open and alive.
    Joined { incident: String },
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
        held: &OpenIncident,
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
    /// remediated by this incident.
    fn release(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        outcome: &str,
        remediated: bool,
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
    /// The notifications still kept, by resource.
    fn unsent(
        &self,
        action: &str,
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

/// Where notifications go.
pub trait Pager: Sync {
    fn page(&self, n: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

impl Pager for Notifier {
    async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
        self.send(n).await
    }
}

const OPEN: &str = "open";
const CLOSED: &str = "closed";

fn lock_pk(action: &str) -> String {
    format!("LOCK#{action}")
}

/// What an existing lock item means for `delivery` at `now_ms`.
fn decide(
    state: &str,
    deliveries: &[String],
    held: OpenIncident,
    delivery: &str,
    now_ms: u64,
    unsent: Option<String>,
) -> Lock {
    if state == OPEN && held.lease_until_ms <= now_ms {
        return Lock::Stale(held);
    }
    if deliveries.iter().any(|d| d == delivery) {
        return Lock::Duplicate { unsent };
    }
    Lock::Joined {
        incident: held.incident,
    }
}

impl History {
    fn open_from(
        &self,
        map: &HashMap<String, AttributeValue>,
    ) -> Result<OpenIncident, HistoryError> {
        let item = self.item(map);
        Ok(OpenIncident {
            incident: item.str("incident")?,
            delivery: item.str("delivery")?,
            lease_until_ms: item.num("lease_until")?,
            target: item.json("target")?,
        })
    }

    /// A conditional update of the lock item that only applies to `incident`; a lock that
    /// moved on to another incident is left alone.
    /// The locks of an action that pass `filter`, every page, read consistently.
    async fn locks_where(
        &self,
        action: &str,
        filter: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        operation: &'static str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, HistoryError> {
        let query = values.into_iter().fold(
            self.client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .filter_expression(filter)
                .expression_attribute_values(":pk", s(lock_pk(action))),
            |q, (name, value)| q.expression_attribute_values(name, value),
        );
        let query = names.iter().fold(query, |q, (alias, name)| {
            q.expression_attribute_names(*alias, *name)
        });
        let pages: Vec<_> = query
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(|r| r.map_err(|e| self.err(operation, &e)))
            .collect()
    }

    async fn update_lock(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
        operation: &'static str,
    ) -> Result<(), HistoryError> {
        let mut call = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(lock_pk(action)))
            .key("sk", s(resource))
            .update_expression(update)
            .condition_expression("incident = :inc")
            .expression_attribute_values(":inc", s(incident));
        if update.contains("#state") {
            call = call.expression_attribute_names("#state", "state");
        }
        for (name, value) in values {
            call = call.expression_attribute_values(name, value);
        }
        match call.send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(self.err(operation, &e)),
        }
    }
}

impl Ledger for History {
    async fn lock(&self, req: &LockRequest<'_>) -> Result<Lock, HistoryError> {
        let now_ms = epoch_millis(req.now);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(lock_pk(req.action)))
            .key("sk", s(req.resource))
            .update_expression(
                "SET #state = :open, incident = :inc, delivery = :d, deliveries = :ds, \
                 #function = :f, target = :t, opened_at = :now, lease_until = :lease \
                 REMOVE unsent",
            )
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :closed AND NOT contains(deliveries, :d))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#function", "function")
            .expression_attribute_values(":open", s(OPEN))
            .expression_attribute_values(":closed", s(CLOSED))
            .expression_attribute_values(":inc", s(req.incident))
            .expression_attribute_values(":d", s(req.delivery))
            .expression_attribute_values(":ds", AttributeValue::Ss(vec![req.delivery.to_owned()]))
            .expression_attribute_values(":f", s(req.function))
            .expression_attribute_values(":t", s(req.target.to_string()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":lease", n(epoch_millis(req.lease_until)))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Lock::Opened {
                remediated: out
                    .attributes()
                    .and_then(|a| a.get("remediated"))
                    .and_then(|v| v.as_s().ok())
                    .cloned(),
            }),
            Err(e) => {
                let existing = match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item().cloned(),
                    _ => return Err(self.err("UpdateItem (incident lock)", &e)),
                };
                let Some(map) = existing else {
                    return Err(HistoryError::Malformed {
                        table: self.table().to_owned(),
                        pk: lock_pk(req.action),
                        sk: req.resource.to_owned(),
                        reason: "the lock's condition failed but no item came back".into(),
                    });
                };
                let item = self.item(&map);
                let state = item.str("state")?;
                let deliveries = item.str_set("deliveries");
                Ok(decide(
                    &state,
                    &deliveries,
                    self.open_from(&map)?,
                    req.delivery,
                    now_ms,
                    item.opt_str("unsent"),
                ))
            }
        }
    }

    async fn keep_unsent(
        &self,
        action: &str,
        resource: &str,
        notification: &str,
    ) -> Result<(), HistoryError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(lock_pk(action)))
            .key("sk", s(resource))
            .update_expression("SET unsent = :n")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":n", s(notification))
            .send()
            .await
            .map_err(|e| self.err("UpdateItem (unsent notification)", &e))?;
        Ok(())
    }

    async fn sent(&self, action: &str, resource: &str) -> Result<(), HistoryError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(lock_pk(action)))
            .key("sk", s(resource))
            .update_expression("REMOVE unsent")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| self.err("UpdateItem (notification sent)", &e))?;
        Ok(())
    }

    async fn take_over(
        &self,
        action: &str,
        resource: &str,
        held: &OpenIncident,
        lease_until: SystemTime,
    ) -> Result<bool, HistoryError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(lock_pk(action)))
            .key("sk", s(resource))
            .update_expression("SET lease_until = :lease ADD resumes :one")
            .condition_expression("#state = :open AND incident = :inc AND lease_until = :old")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":open", s(OPEN))
            .expression_attribute_values(":inc", s(&held.incident))
            .expression_attribute_values(":old", n(held.lease_until_ms))
            .expression_attribute_values(":lease", n(epoch_millis(lease_until)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.err("UpdateItem (incident takeover)", &e)),
        }
    }

    async fn join(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> Result<(), HistoryError> {
        self.update_lock(
            action,
            resource,
            incident,
            "ADD deliveries :ds, joined :one",
            vec![
                (":ds", AttributeValue::Ss(vec![delivery.to_owned()])),
                (":one", n(1)),
            ],
            "UpdateItem (incident join)",
        )
        .await
    }

    async fn release(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        outcome: &str,
        remediated: bool,
    ) -> Result<(), HistoryError> {
        let remediated = if remediated {
            ", remediated = :inc"
        } else {
            ""
        };
        self.update_lock(
            action,
            resource,
            incident,
            &format!("SET #state = :closed, last_outcome = :outcome{remediated}"),
            vec![(":closed", s(CLOSED)), (":outcome", s(outcome))],
            "UpdateItem (incident release)",
        )
        .await
    }

    async fn forget(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        delivery: &str,
    ) -> Result<(), HistoryError> {
        self.update_lock(
            action,
            resource,
            incident,
            "SET #state = :closed DELETE deliveries :ds",
            vec![
                (":closed", s(CLOSED)),
                (":ds", AttributeValue::Ss(vec![delivery.to_owned()])),
            ],
            "UpdateItem (incident forget)",
        )
        .await
    }

    async fn lapse(
        &self,
        action: &str,
        resource: &str,
        incident: &str,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        self.update_lock(
            action,
            resource,
            incident,
            "SET lease_until = :now",
            vec![(":now", n(epoch_millis(now)))],
            "UpdateItem (incident lapse)",
        )
        .await
    }

    async fn unsent(&self, action: &str) -> Result<Vec<(String, String)>, HistoryError> {
        let items = self
            .locks_where(
                action,
                "attribute_exists(unsent)",
                &[],
                Vec::new(),
                "Query (kept notifications)",
            )
            .await?;
        items
            .iter()
            .map(|map| {
                let item = self.item(map);
                Ok((item.str("sk")?, item.str("unsent")?))
            })
            .collect()
    }

    async fn stale(
        &self,
        action: &str,
        now: SystemTime,
    ) -> Result<Vec<(String, OpenIncident)>, HistoryError> {
        let values = vec![(":open", s(OPEN)), (":now", n(epoch_millis(now)))];
        let filter = "#state = :open AND lease_until < :now";
        let items = self
            .locks_where(
                action,
                filter,
                &[("#state", "state")],
                values,
                "Query (stale incidents)",
            )
            .await?;
        items
            .iter()
            .map(|map| Ok((self.item(map).str("sk")?, self.open_from(map)?)))
            .collect()
    }

    async fn open_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
    ) -> Result<(), HistoryError> {
        History::open_incident(self, incident, status).await
    }

    async fn close_incident(
        &self,
        incident: &Incident,
        status: IncidentStatus,
        steps: &Value,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        History::close_incident(self, incident, status, steps, now).await
    }

    async fn incident(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<IncidentRecord>, HistoryError> {
        History::incident(self, resource, id).await
    }
}

/// The ledger and pager in memory, for unit tests of the pipeline's decisions. The same
/// semantics as the table: one conditional transition per call.
#[cfg(test)]
pub mod memory {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Clone)]
    struct LockItem {
        state: &'static str,
        held: OpenIncident,
        deliveries: Vec<String>,
        remediated: Option<String>,
        unsent: Option<String>,
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
                    && item.held.incident == incident
                {
                    f(item);
                }
            });
        }

        /// Whether the lock of a resource is open now.
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
                        item.held = fresh;
                        item.deliveries = vec![req.delivery.to_owned()];
                        item.unsent = None;
                        Lock::Opened {
                            remediated: item.remediated.clone(),
                        }
                    }
                    Some(item) => decide(
                        item.state,
                        &item.deliveries,
                        item.held.clone(),
                        req.delivery,
                        now_ms,
                        item.unsent.clone(),
                    ),
                    None => {
                        locks.insert(
                            key,
                            LockItem {
                                state: OPEN,
                                held: fresh,
                                deliveries: vec![req.delivery.to_owned()],
                                remediated: None,
                                unsent: None,
                            },
                        );
                        Lock::Opened { remediated: None }
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
                }
            });
            Ok(())
        }

        async fn unsent(&self, action: &str) -> Result<Vec<(String, String)>, HistoryError> {
            let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            Ok(locks
                .iter()
                .filter(|((a, _), _)| a == action)
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
            held: &OpenIncident,
            lease_until: SystemTime,
        ) -> Result<bool, HistoryError> {
            Ok(
                self.with_lock(action, resource, |locks, key| match locks.get_mut(&key) {
                    Some(item) if item.state == OPEN && item.held == *held => {
                        item.held.lease_until_ms = epoch_millis(lease_until);
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
        ) -> Result<(), HistoryError> {
            self.with_incident(action, resource, incident, |item| {
                item.state = CLOSED;
                if remediated {
                    item.remediated = Some(incident.to_owned());
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
                item.held.lease_until_ms = epoch_millis(now);
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
                    a == action && i.state == OPEN && i.held.lease_until_ms < epoch_millis(now)
                })
                .map(|((_, r), i)| (r.clone(), i.held.clone()))
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
                },
            );
            Ok(())
        }

        async fn close_incident(
            &self,
            incident: &Incident,
            status: IncidentStatus,
            steps: &Value,
            _now: SystemTime,
        ) -> Result<(), HistoryError> {
            let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = incidents.get_mut(&(incident.resource.clone(), incident.sk())) {
                r.status = status.as_str().to_owned();
                r.steps = steps.clone();
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

    /// Notifications kept instead of sent.
    #[derive(Debug, Default)]
    pub struct MemoryPager {
        pub sent: Mutex<Vec<Notification>>,
        /// While set, every notification is refused, as SNS refuses one.
        pub refuse: std::sync::atomic::AtomicBool,
    }

    impl MemoryPager {
        pub fn taken(&self) -> Vec<Notification> {
            std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }

    impl Pager for MemoryPager {
        async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(NotifyError {
                    topic: "memory".into(),
                    message: "refused".into(),
                });
            }
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(n.clone());
            Ok(())
        }
    }
}
