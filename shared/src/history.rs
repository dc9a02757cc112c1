//! History in one DynamoDB table: incidents and their locks, safeguard slots, offenses and
//! trail baselines.
//!
//! # Single-table key design
//!
//! Every item has a string partition key `pk`, a string sort key `sk`, and, where it should
//! disappear on its own, a number `expires_at` (epoch seconds) that is the table's TTL
//! attribute. TTL deletes lazily (up to days late), so every read that depends on expiry
//! checks `expires_at` itself.
//!
//! | item             | `pk`                                   | `sk`                         | holds |
//! |------------------|----------------------------------------|------------------------------|-------|
//! | incident         | `INCIDENT#<resource>`                  | `<opened RFC 3339>#<delivery>` | status, trigger, actor, state before, steps |
//! | incident lock    | `LOCK#<action>`                        | `<resource>`                 | `state` (open/closed), `incident`, `delivery`, `deliveries`, `target`, `lease_until` (ms), `remediated`, `last_outcome` |
//! | safeguard slot   | `SAFEGUARD#<kind>` (the ceiling)       | `SLOT#<n>` (zero-padded)     | `acquired_at` (ms), holder |
//! | account slot     | `SAFEGUARD-ACCOUNT#<account>#<kind>`   | `SLOT#<n>` (zero-padded)     | `acquired_at` (ms), holder |
//! | offense          | `OFFENSE#<principal>`                  | `<delivery>`                 | `at_ms`, event, `expires_at` |
//! | baseline         | `BASELINE#<kind>` (`trail`)            | `<name>` (trail ARN)         | configuration (JSON), `recorded_at` |
//! | hold             | `HOLD#<name>` (`role-policy#<role>`)   | `-`                          | holder, `until` (ms), `expires_at` |
//!
//! # The incident lifecycle
//!
//! One incident per action and resource is open at a time ([`crate::ledger`]):
//!
//! 1. **open**: the first trigger's conditional write sets the lock `open` with a lease that
//!    ends at the invocation's deadline plus a margin, and names the incident; the incident
//!    item, with the state before, is written in the next round, before any change;
//! 2. **joined**: a trigger that finds the lock open and its lease alive adds its delivery
//!    to `deliveries` and does nothing else;
//! 3. **resumed**: a trigger (or the sweep) that finds the lease run out takes the lock over
//!    with a conditional write on `lease_until`, reads the incident item's state before, and
//!    finishes the incident from the live state;
//! 4. **closed**: the outcome goes to the incident item and the lock turns `closed`
//!    (`remediated` names the last incident that remediated the resource). Its `deliveries`
//!    stay until the next incident opens, so a redelivery is still a duplicate.
//!
//! An invocation that runs out of time ends its lease at once (`lease_until` = now), so that
//! Lambda's retry resumes the incident without waiting.
//!
//! "Has this happened before?" is one `Query` on a partition: the incidents of a resource in
//! time order, or the offenses of a principal (filtered on `at_ms`). All
//! baselines of a kind share a partition, so an audit lists them, deleted trails included,
//! in one query.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::Value;

use crate::errors::sdk_message;
use crate::time::{epoch_millis, rfc3339};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history table {table}: {operation} failed: {message}")]
    Dynamo {
        table: String,
        operation: &'static str,
        message: String,
    },
    #[error("history table {table}: item {pk}/{sk} is malformed: {reason}")]
    Malformed {
        table: String,
        pk: String,
        sk: String,
        reason: String,
    },
}

/// Whether a DynamoDB call failed only its condition: the answer "no" of a conditional
/// write, not an error. One test for every operation.
pub(crate) fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

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

    /// The key of an incident opened at `opened_at` by `delivery`: incidents sort by time.
    pub fn key(opened_at: SystemTime, delivery: &str) -> String {
        format!("{}#{delivery}", rfc3339(opened_at))
    }
}

/// An incident as read back from history.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    pub sk: String,
    pub status: String,
    pub function: String,
    pub action: String,
    pub delivery_id: String,
    pub trigger: String,
    pub before: Value,
    pub steps: Value,
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
        })
    }
}

/// An offense as read back from history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffenseRecord {
    pub at_ms: u64,
    pub delivery_id: String,
    pub event: String,
    /// The call succeeded (it weakened something); `false` for a denied or failed attempt.
    /// Records written before this was kept read as succeeded unless their event says
    /// "attempt".
    pub succeeded: bool,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Typed reads of an item's attributes.
pub(crate) struct Item<'a> {
    table: &'a str,
    map: &'a HashMap<String, AttributeValue>,
}

impl Item<'_> {
    pub(crate) fn key(&self, name: &str) -> String {
        self.map
            .get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    }
    pub(crate) fn malformed(&self, reason: String) -> HistoryError {
        HistoryError::Malformed {
            table: self.table.to_owned(),
            pk: self.key("pk"),
            sk: self.key("sk"),
            reason,
        }
    }
    pub(crate) fn str(&self, name: &str) -> Result<String, HistoryError> {
        match self.map.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(self.malformed(format!("attribute {name} is not a string"))),
        }
    }
    pub(crate) fn opt_str(&self, name: &str) -> Option<String> {
        self.map.get(name).and_then(|v| v.as_s().ok()).cloned()
    }
    pub(crate) fn num(&self, name: &str) -> Result<u64, HistoryError> {
        match self.map.get(name) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| self.malformed(format!("attribute {name} is not a whole number"))),
            _ => Err(self.malformed(format!("attribute {name} is not a number"))),
        }
    }
    /// A string set, empty when absent.
    pub(crate) fn str_set(&self, name: &str) -> Vec<String> {
        self.map
            .get(name)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default()
    }
    pub(crate) fn json(&self, name: &str) -> Result<Value, HistoryError> {
        match self.opt_str(name) {
            None => Ok(Value::Null),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| self.malformed(format!("attribute {name} is not JSON: {e}"))),
        }
    }
}

/// The history table.
#[derive(Debug, Clone)]
pub struct History {
    db: Client,
    table: String,
}

impl History {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.db
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn err<E, R>(&self, operation: &'static str, e: &SdkError<E, R>) -> HistoryError
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        HistoryError::Dynamo {
            table: self.table.clone(),
            operation,
            message: sdk_message(e),
        }
    }

    pub(crate) fn item<'a>(&'a self, map: &'a HashMap<String, AttributeValue>) -> Item<'a> {
        Item {
            table: &self.table,
            map,
        }
    }

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

    /// One item, read consistently and decoded by `decode`; `None` when absent.
    async fn get<T>(
        &self,
        pk: String,
        sk: &str,
        operation: &'static str,
        decode: impl Fn(&Item<'_>) -> Result<T, HistoryError>,
    ) -> Result<Option<T>, HistoryError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(operation, &e))?;
        out.item().map(|map| decode(&self.item(map))).transpose()
    }

    /// Every item of a partition, optionally filtered, decoded by `decode`.
    async fn partition<T>(
        &self,
        pk: String,
        filter: Option<(&str, &str, AttributeValue)>,
        operation: &'static str,
        decode: impl Fn(&Item<'_>) -> Result<T, HistoryError>,
    ) -> Result<Vec<T>, HistoryError> {
        let mut query = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true);
        if let Some((expression, name, value)) = filter {
            query = query
                .filter_expression(expression)
                .expression_attribute_values(name, value);
        }
        let pages: Vec<_> = query.into_paginator().items().send().collect().await;
        pages
            .into_iter()
            .map(|r| {
                let map = r.map_err(|e| self.err(operation, &e))?;
                decode(&self.item(&map))
            })
            .collect()
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

    /// Records one offense. Keyed by delivery and written only once, so a redelivered
    /// event, whenever it arrives, is the same offense at the same time.
    pub async fn record_offense(
        &self,
        principal: &str,
        delivery_id: &str,
        at: SystemTime,
        event: &str,
        succeeded: bool,
        keep_for: Duration,
    ) -> Result<(), HistoryError> {
        let at_ms = epoch_millis(at);
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("OFFENSE#{principal}")))
            .item("sk", s(delivery_id))
            .item("at_ms", n(at_ms))
            .item("delivery_id", s(delivery_id))
            .item("event", s(event))
            .item("succeeded", AttributeValue::Bool(succeeded))
            .item("expires_at", n((at_ms / 1000) + keep_for.as_secs()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(self.err("PutItem (offense)", &e)),
        }
    }

    /// A principal's offenses at or after `since`, oldest first.
    pub async fn offenses_since(
        &self,
        principal: &str,
        since: SystemTime,
    ) -> Result<Vec<OffenseRecord>, HistoryError> {
        let mut offenses = self
            .partition(
                format!("OFFENSE#{principal}"),
                Some(("at_ms >= :since", ":since", n(epoch_millis(since)))),
                "Query (offenses)",
                |item| {
                    let event = item.str("event")?;
                    let succeeded = match item.map.get("succeeded") {
                        Some(AttributeValue::Bool(b)) => *b,
                        _ => !event.contains("(attempt, failed"),
                    };
                    Ok(OffenseRecord {
                        at_ms: item.num("at_ms")?,
                        delivery_id: item.str("delivery_id")?,
                        event,
                        succeeded,
                    })
                },
            )
            .await?;
        offenses.sort_by_key(|o| o.at_ms);
        Ok(offenses)
    }

    fn baseline_put(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("BASELINE#{kind}")))
            .item("sk", s(name))
            .item("config", s(config.to_string()))
            .item("recorded_at", s(rfc3339(now)))
    }

    /// Takes a short exclusive hold on `name` for `holder` until `until`, for read-modify-write
    /// sequences on what DynamoDB cannot update atomically (a role's inline policy). A hold
    /// whose holder died runs out by itself. Returns whether it was taken.
    pub async fn hold(
        &self,
        name: &str,
        holder: &str,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<bool, HistoryError> {
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("HOLD#{name}")))
            .item("sk", s("-"))
            .item("holder", s(holder))
            .item("until", n(epoch_millis(until)))
            .item("expires_at", n(epoch_millis(until) / 1000 + 3600))
            .condition_expression("attribute_not_exists(pk) OR #until < :now")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(epoch_millis(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.err("PutItem (hold)", &e)),
        }
    }

    /// Waits for its turn on `name`: tries the hold `tries` times, `pause` apart. False when
    /// the turn did not come, or history cannot be reached (the caller goes on without it and
    /// checks its own work).
    pub async fn hold_in_turn(
        &self,
        name: &str,
        holder: &str,
        lease: Duration,
        tries: u32,
        pause: Duration,
    ) -> bool {
        for _ in 0..tries {
            let now = SystemTime::now();
            match self.hold(name, holder, now + lease, now).await {
                Ok(true) => return true,
                Ok(false) => tokio::time::sleep(pause).await,
                Err(e) => {
                    tracing::warn!(hold = %name, error = %e, "no hold: going on without it");
                    return false;
                }
            }
        }
        false
    }

    /// Gives a hold back, if `holder` still has it.
    pub async fn unhold(&self, name: &str, holder: &str) -> Result<(), HistoryError> {
        let result = self
            .db
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("HOLD#{name}")))
            .key("sk", s("-"))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(self.err("DeleteItem (hold)", &e)),
        }
    }

    /// Keeps the known-good configuration of `name` (a trail's ARN, say) to restore later.
    pub async fn put_baseline(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        self.baseline_put(kind, name, config, now)
            .send()
            .await
            .map_err(|e| self.err("PutItem (baseline)", &e))?;
        Ok(())
    }

    /// Keeps `config` under `name` unless something is kept there already, which is then
    /// returned: the first of two concurrent writers wins, and the other learns what won.
    pub async fn put_baseline_once(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> Result<Option<Value>, HistoryError> {
        let result = self
            .baseline_put(kind, name, config, now)
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) if condition_failed(&e) => self.baseline(kind, name).await,
            Err(e) => Err(self.err("PutItem (baseline once)", &e)),
        }
    }

    pub async fn baseline(&self, kind: &str, name: &str) -> Result<Option<Value>, HistoryError> {
        self.get(
            format!("BASELINE#{kind}"),
            name,
            "GetItem (baseline)",
            |item| item.json("config"),
        )
        .await
    }

    /// Every baseline of a kind, by name.
    pub async fn baselines(&self, kind: &str) -> Result<Vec<(String, Value)>, HistoryError> {
        self.partition(
            format!("BASELINE#{kind}"),
            None,
            "Query (baselines)",
            |item| Ok((item.str("sk")?, item.json("config")?)),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn incident_keys_sort_by_time() {
        let mk = |secs| Incident {
            id: Incident::key(UNIX_EPOCH + Duration::from_secs(secs), "d"),
            function: "f".into(),
            action: "a".into(),
            resource: "i-1".into(),
            delivery_id: "d".into(),
            trigger: "t".into(),
            actor: None,
            opened_at: UNIX_EPOCH + Duration::from_secs(secs),
            before: Value::Null,
        };
        assert_eq!(mk(0).pk(), "INCIDENT#i-1");
        assert!(mk(9).sk() < mk(10).sk());
        assert!(mk(99_999).sk() < mk(100_000).sk());
    }
}
