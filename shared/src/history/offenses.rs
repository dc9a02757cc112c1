//! Offense items: one per counted call of a principal (`OFFENSE#<principal>` / `<delivery>`),
//! expiring after the counting window.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use super::{History, HistoryError, condition_failed, n, s};
use crate::time::epoch_millis;

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

impl History {
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
}
