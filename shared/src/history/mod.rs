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
//! | incident         | `INCIDENT#<resource>`                  | `<opened RFC 3339>#<delivery>` | status, trigger, actor, account, region, `day` (index `by-day`), state before, steps |
//! | incident lock    | `LOCK#<action>`                        | `<resource>`                 | `state` (open/closed), `incident`, `delivery`, `deliveries`, `target`, `lease_until` (ms), `remediated`, `last_outcome` |
//! | safeguard slot   | `SAFEGUARD#<kind>` (the ceiling)       | `SLOT#<n>` (zero-padded)     | `acquired_at` (ms), holder |
//! | account slot     | `SAFEGUARD-ACCOUNT#<account>#<kind>`   | `SLOT#<n>` (zero-padded)     | `acquired_at` (ms), holder |
//! | offense          | `OFFENSE#<principal>`                  | `<delivery>`                 | `at_ms`, event, `expires_at` |
//! | baseline         | `BASELINE#<kind>` (`trail`)            | `<name>` (trail ARN)         | configuration (JSON), `recorded_at` |
//! | turn             | `HOLD#<name>` (`role-policy#<role>`)   | `-`                          | holder, `until` (ms), `expires_at` |
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

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::errors::sdk_message;

mod baselines;
mod incidents;
mod listing;
mod offenses;
mod turns;

pub use incidents::{Incident, IncidentRecord, IncidentStatus};
pub use listing::{INCIDENTS_BY_DAY, IncidentLine, PROJECTED, day_of};
pub use offenses::OffenseRecord;

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn incident_keys_sort_by_time() {
        let mk = |secs| Incident {
            id: Incident::key(UNIX_EPOCH + Duration::from_secs(secs), "d", "i-1"),
            function: "f".into(),
            action: "a".into(),
            resource: "i-1".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
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
