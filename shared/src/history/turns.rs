//! Turn items: a named, expiring turn on a shared resource (a role's inline policy, a
//! network ACL) that one invocation edits at a time (`HOLD#<name>` / `-`: the key keeps its
//! first name, so that invocations of an earlier version and this one still take turns
//! during a deploy).

use std::time::{Duration, SystemTime};

use super::{History, HistoryError, condition_failed, n, s};
use crate::time::epoch_millis;

impl History {
    /// Takes a short exclusive turn on `name` for `holder` until `until`, for read-modify-write
    /// sequences on what DynamoDB cannot update atomically (a role's inline policy). A turn
    /// whose holder died runs out by itself. Returns whether it was taken.
    pub async fn take_turn(
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
            Err(e) => Err(self.err("PutItem (turn)", &e)),
        }
    }

    /// Waits for its turn on `name`: tries to take it `tries` times, `pause` apart. False when
    /// the turn did not come, or history cannot be reached (the caller goes on without it and
    /// checks its own work).
    pub async fn wait_turn(
        &self,
        name: &str,
        holder: &str,
        lease: Duration,
        tries: u32,
        pause: Duration,
    ) -> bool {
        for _ in 0..tries {
            let now = SystemTime::now();
            match self.take_turn(name, holder, now + lease, now).await {
                Ok(true) => return true,
                Ok(false) => tokio::time::sleep(pause).await,
                Err(e) => {
                    tracing::warn!(turn = %name, error = %e, "no turn: going on without it");
                    return false;
                }
            }
        }
        false
    }

    /// Ends a turn, if `holder` still has it.
    pub async fn end_turn(&self, name: &str, holder: &str) -> Result<(), HistoryError> {
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
            Err(e) => Err(self.err("DeleteItem (turn)", &e)),
        }
    }
}
