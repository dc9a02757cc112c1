//! The ledger on the history table: the lock item, its lease and the incident records, each
//! a conditional write or a consistent read.

use std::time::SystemTime;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde_json::Value;

use super::{CLOSED, Ledger, Lock, LockRequest, OPEN, OpenIncident};
use crate::history::{
    History, HistoryError, Incident, IncidentRecord, IncidentStatus, condition_failed, n, s,
};
use crate::time::epoch_millis;
use items::lock_pk;

mod items;

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
                 REMOVE unsent, unsent_at",
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
            Ok(out) => {
                let old = |name: &str| {
                    out.attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                };
                Ok(Lock::Opened {
                    remediated: old("remediated"),
                    left: old("unsent"),
                })
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    self.existing_lock(req, c.item(), now_ms)
                }
                _ => Err(self.err("UpdateItem (incident lock)", &e)),
            },
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
            .update_expression("SET unsent = :n, unsent_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":n", s(notification))
            .expression_attribute_values(":at", n(epoch_millis(SystemTime::now())))
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
            .update_expression("REMOVE unsent, unsent_at")
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
        abandoned: &OpenIncident,
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
            .expression_attribute_values(":inc", s(&abandoned.incident))
            .expression_attribute_values(":old", n(abandoned.lease_until_ms))
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
        outbox: Option<&str>,
    ) -> Result<(), HistoryError> {
        let mut update = "SET #state = :closed, last_outcome = :outcome".to_owned();
        let mut values = vec![(":closed", s(CLOSED)), (":outcome", s(outcome))];
        if remediated {
            update.push_str(", remediated = :inc");
        }
        if let Some(message) = outbox {
            update.push_str(", unsent = :n, unsent_at = :at");
            values.push((":n", s(message)));
            values.push((":at", n(epoch_millis(SystemTime::now()))));
        }
        self.update_lock(
            action,
            resource,
            incident,
            &update,
            values,
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

    async fn unsent(
        &self,
        action: &str,
        kept_before: SystemTime,
    ) -> Result<Vec<(String, String)>, HistoryError> {
        let items = self
            .locks_where(
                action,
                "attribute_exists(unsent) AND (attribute_not_exists(unsent_at) OR unsent_at < :before)",
                &[],
                vec![(":before", n(epoch_millis(kept_before)))],
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
