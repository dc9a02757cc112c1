//! One rolling window of slots in the history table: surveyed with one consistent query,
//! a slot claimed with a conditional put that only succeeds on a free or expired slot.

use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::{Seen, SlotDecision};
use crate::errors::sdk_message;
use crate::history::History;
use crate::time::epoch_millis;

/// One rolling window of `limit` slots.
pub(super) struct Window<'h> {
    pub(super) history: &'h History,
    pub(super) kind: &'static str,
    pub(super) partition: String,
    pub(super) limit: u32,
    pub(super) window: Duration,
    /// Where it counts, for a person (`in account 1111…`, `across every account`).
    pub(super) scope: String,
}

impl Window<'_> {
    pub(super) async fn survey(&self, holder: &str, now: SystemTime) -> Seen {
        if self.limit == 0 {
            return Seen {
                free: Ok(Vec::new()),
                holders: Vec::new(),
            };
        }
        match self.candidates(holder, self.cutoff(now)).await {
            Ok((free, holders)) => Seen {
                free: Ok(free),
                holders,
            },
            Err(e) => Seen {
                free: Err(e),
                holders: Vec::new(),
            },
        }
    }

    pub(super) fn refusal(&self, unavailable: Option<String>) -> SlotDecision {
        let kind = self.kind;
        let reason = match unavailable {
            Some(message) => format!("safeguard unavailable, failing closed: {message}"),
            None if self.limit == 0 => format!(
                "safeguard limit for {kind} {} is 0: every case goes to a human",
                self.scope
            ),
            None => format!(
                "safeguard reached: {} already in the last {} min {}",
                self.limit,
                self.window.as_secs() / 60,
                self.scope
            ),
        };
        SlotDecision::Refused { reason }
    }

    /// Slots last taken at or before this instant are free again.
    pub(super) fn cutoff(&self, now: SystemTime) -> u64 {
        epoch_millis(now).saturating_sub(epoch_millis_of(self.window))
    }

    /// Slots that looked free at the time of reading, in an order that starts at a point
    /// derived from the holder, so that concurrent acquirers mostly try different slots.
    pub(super) async fn candidates(
        &self,
        holder: &str,
        cutoff: u64,
    ) -> Result<(Vec<u32>, Vec<String>), String> {
        let db = self.history.client();
        let mut busy = vec![false; self.limit as usize];
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
        let free: Vec<u32> = (0..self.limit).filter(|&i| !busy[i as usize]).collect();
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

    /// The conditional write that takes `slot` for `holder`: only if it is empty or was
    /// last taken a full window ago.
    pub(super) fn put(&self, slot: u32, holder: &str, now_ms: u64) -> Result<Put, BuildError> {
        let cutoff = now_ms.saturating_sub(epoch_millis_of(self.window));
        let expires = (now_ms + epoch_millis_of(self.window)) / 1000 + 86_400;
        Put::builder()
            .table_name(self.history.table())
            .item("pk", AttributeValue::S(self.partition.clone()))
            .item("sk", AttributeValue::S(format!("SLOT#{slot:05}")))
            .item("slot", AttributeValue::N(slot.to_string()))
            .item("acquired_at", AttributeValue::N(now_ms.to_string()))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk) OR acquired_at <= :cutoff")
            .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
            .build()
    }
}

fn epoch_millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
