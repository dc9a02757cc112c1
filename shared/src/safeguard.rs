//! Safeguards: at most `limit` actions of a kind in any rolling window of `window`, held
//! exactly across every concurrent invocation.
//!
//! The window is made of `limit` slot items (`SAFEGUARD#<kind>` / `SLOT#<n>`). Acquiring is
//! a conditional write that takes a slot only if it is empty or was last taken at least
//! `window` ago. DynamoDB applies conditional writes atomically per item, so two
//! invocations can never both take one slot, and a slot is reused only a full window after
//! its last use: any interval of length `window`, wherever its edges fall, holds at most
//! `limit` acquisitions (two in one slot are at least `window` apart). `limit = 0` has no
//! slots: every case goes to a human.
//!
//! Anything but a clean grant is a refusal: an unavailable table fails closed.

use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::history::condition_failed;
use crate::history::{History, epoch_millis, sdk_message};

/// What a safeguard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeguardPolicy {
    /// The kind of action counted together (`isolate`, `disable`).
    pub kind: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl SafeguardPolicy {
    pub fn describe(&self) -> String {
        format!(
            "{} {} per {} min",
            self.limit,
            self.kind,
            self.window.as_secs() / 60
        )
    }
}

/// The answer to an acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotDecision {
    Granted { slot: u32 },
    Refused { reason: String },
}

/// The slots a read found free, in the order to try them, or why the read failed; and who
/// holds the busy ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    free: Result<Vec<u32>, String>,
    holders: Vec<String>,
}

impl Survey {
    /// Whether `holder` holds a slot of the current window: a resource keeps the slot it
    /// took, for a resumed incident or a new one.
    pub fn held_by(&self, holder: &str) -> bool {
        self.holders.iter().any(|h| h == holder)
    }
}

impl SlotDecision {
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted { .. })
    }
}

/// A safeguard over the history table.
#[derive(Debug, Clone)]
pub struct Safeguard {
    history: History,
    policy: SafeguardPolicy,
    /// Dry runs count in their own window, so rehearsing never uses up real slots.
    partition: String,
}

impl Safeguard {
    pub fn new(history: History, policy: SafeguardPolicy, dry_run: bool) -> Self {
        let suffix = if dry_run { "#dry-run" } else { "" };
        Self {
            partition: format!("SAFEGUARD#{}{suffix}", policy.kind),
            history,
            policy,
        }
    }

    pub fn policy(&self) -> &SafeguardPolicy {
        &self.policy
    }

    /// Takes a slot for `holder` at `now`, or says why not.
    pub async fn acquire(&self, holder: &str, now: SystemTime) -> SlotDecision {
        let survey = self.survey(holder, now).await;
        self.claim(survey, holder, now).await
    }

    /// Reads which slots look free. Only a read: the pipeline runs it beside its other
    /// first-round reads so that taking a slot costs one more round trip, not two.
    pub async fn survey(&self, holder: &str, now: SystemTime) -> Survey {
        if self.policy.limit == 0 {
            return Survey {
                free: Ok(Vec::new()),
                holders: Vec::new(),
            };
        }
        match self.candidates(holder, self.cutoff(now)).await {
            Ok((free, holders)) => Survey {
                free: Ok(free),
                holders,
            },
            Err(e) => Survey {
                free: Err(e),
                holders: Vec::new(),
            },
        }
    }

    /// Takes the first slot of a survey that is still free. A slot taken by someone else
    /// since the survey fails its condition and the next one is tried; none left is a
    /// refusal, never a wait.
    pub async fn claim(&self, survey: Survey, holder: &str, now: SystemTime) -> SlotDecision {
        if self.policy.limit == 0 {
            return SlotDecision::Refused {
                reason: format!(
                    "safeguard limit for {} is 0: every case goes to a human",
                    self.policy.kind
                ),
            };
        }
        let unavailable = |message: String| SlotDecision::Refused {
            reason: format!("safeguard unavailable, failing closed: {message}"),
        };
        let candidates = match survey.free {
            Ok(c) => c,
            Err(message) => return unavailable(message),
        };
        let now_ms = epoch_millis(now);
        for slot in candidates {
            match self.take(slot, holder, now_ms, self.cutoff(now)).await {
                Ok(true) => return SlotDecision::Granted { slot },
                Ok(false) => {}
                Err(message) => return unavailable(message),
            }
        }
        SlotDecision::Refused {
            reason: format!(
                "safeguard reached: {} already in the last {} min",
                self.policy.limit,
                self.policy.window.as_secs() / 60
            ),
        }
    }

    /// Slots last taken at or before this instant are free again.
    fn cutoff(&self, now: SystemTime) -> u64 {
        epoch_millis(now).saturating_sub(epoch_millis_of(self.policy.window))
    }

    /// Slots that looked free at the time of reading, in an order that starts at a point
    /// derived from the holder, so that concurrent acquirers mostly try different slots.
    async fn candidates(
        &self,
        holder: &str,
        cutoff: u64,
    ) -> Result<(Vec<u32>, Vec<String>), String> {
        let db = self.history.client();
        let mut busy = vec![false; self.policy.limit as usize];
        let mut holders = Vec::new();
        let mut pages = db
            .query()
            .table_name(self.history.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(self.partition.clone()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| sdk_message(&e))?;
            let slot = item
                .get("slot")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let acquired = item
                .get("acquired_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let (Some(slot), Some(acquired)) = (slot, acquired)
                && acquired > cutoff
                && let Some(b) = busy.get_mut(slot)
            {
                *b = true;
                if let Some(h) = item.get("holder").and_then(|v| v.as_s().ok()) {
                    holders.push(h.clone());
                }
            }
        }
        let free: Vec<u32> = (0..self.policy.limit)
            .filter(|&i| !busy[i as usize])
            .collect();
        if free.is_empty() {
            return Ok((free, holders));
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        holder.hash(&mut h);
        let start = (h.finish() % free.len() as u64) as usize;
        let order = free[start..]
            .iter()
            .chain(&free[..start])
            .copied()
            .collect();
        Ok((order, holders))
    }

    /// One conditional write: true if this holder now owns the slot.
    async fn take(
        &self,
        slot: u32,
        holder: &str,
        now_ms: u64,
        cutoff: u64,
    ) -> Result<bool, String> {
        let expires = (now_ms + epoch_millis_of(self.policy.window)) / 1000 + 86_400;
        let result = self
            .history
            .client()
            .put_item()
            .table_name(self.history.table())
            .item("pk", AttributeValue::S(self.partition.clone()))
            .item("sk", AttributeValue::S(format!("SLOT#{slot:05}")))
            .item("slot", AttributeValue::N(slot.to_string()))
            .item("acquired_at", AttributeValue::N(now_ms.to_string()))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk) OR acquired_at <= :cutoff")
            .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_message(&e)),
        }
    }
}

fn epoch_millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_describes_itself() {
        let p = SafeguardPolicy {
            kind: "isolate",
            limit: 3,
            window: Duration::from_secs(3600),
        };
        assert_eq!(p.describe(), "3 isolate per 60 min");
    }
}
