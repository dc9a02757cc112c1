//! The lock item as the table holds it: its key, how an item reads back, and the
//! conditional update and query every ledger call is made of.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::history::{History, HistoryError, condition_failed, s};
use crate::ledger::{Lock, LockRequest, OpenIncident, decide};

pub(super) fn lock_pk(action: &str) -> String {
    format!("LOCK#{action}")
}

impl History {
    /// What the lock item that refused a new incident means for this delivery.
    pub(super) fn existing_lock(
        &self,
        req: &LockRequest<'_>,
        existing: Option<&HashMap<String, AttributeValue>>,
        now_ms: u64,
    ) -> Result<Lock, HistoryError> {
        let Some(map) = existing else {
            return Err(HistoryError::Malformed {
                table: self.table().to_owned(),
                pk: lock_pk(req.action),
                sk: req.resource.to_owned(),
                reason: "the lock's condition failed but no item came back".into(),
            });
        };
        let item = self.item(map);
        let state = item.str("state")?;
        let deliveries = item.str_set("deliveries");
        Ok(decide(
            &state,
            &deliveries,
            self.open_from(map)?,
            req.delivery,
            now_ms,
            item.opt_str("unsent"),
        ))
    }

    pub(super) fn open_from(
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
    pub(super) async fn locks_where(
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

    pub(super) async fn update_lock(
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
