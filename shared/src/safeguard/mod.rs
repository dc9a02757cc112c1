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
//!
//! Two windows hold at once: one per account (`limit`), so that decoys in a sandbox account
//! cannot use up the slots a production account needs, and one across every account
//! (`total`), the organization's ceiling. A case takes a slot in its account's window and one
//! in the ceiling's in one DynamoDB transaction: both conditional writes or neither, in one
//! round trip, so each window is exact under concurrency and no slot is ever held alone.

mod window;

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::errors::sdk_message;
use crate::history::History;
use crate::time::epoch_millis;
use window::Window;

/// What a safeguard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeguardPolicy {
    /// The kind of action counted together (`isolate`, `disable`).
    pub kind: &'static str,
    /// At most this many in one account's window.
    pub limit: u32,
    pub window: Duration,
    /// At most this many across every account in the window.
    pub total: u32,
}

impl SafeguardPolicy {
    /// The ceiling when none is configured: four accounts' worth.
    pub fn default_total(limit: u32) -> u32 {
        limit.saturating_mul(4)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {} per {} min per account, {} in all",
            self.limit,
            self.kind,
            self.window.as_secs() / 60,
            self.total
        )
    }
}

/// The answer to an acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotDecision {
    Granted { slot: u32 },
    Refused { reason: String },
}

/// The slots a read of one window found free, in the order to try them, or why the read
/// failed; and who holds the busy ones.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    free: Result<Vec<u32>, String>,
    holders: Vec<String>,
}

/// What a read of both windows found, for one case in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    account: String,
    local: Seen,
    total: Seen,
}

impl Survey {
    /// Whether `holder` holds a slot of the current window: a resource keeps the slot it
    /// took, for a resumed incident or a new one.
    pub fn taken_by(&self, holder: &str) -> bool {
        self.total.holders.iter().any(|h| h == holder)
    }
}

impl SlotDecision {
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted { .. })
    }
}

/// A safeguard over the history table: a window per account and a ceiling across them.
#[derive(Debug, Clone)]
pub struct Safeguard {
    history: History,
    policy: SafeguardPolicy,
    /// Dry runs count in their own windows, so rehearsing never uses up real slots.
    suffix: &'static str,
}

impl Safeguard {
    pub fn new(history: History, policy: SafeguardPolicy, dry_run: bool) -> Self {
        Self {
            suffix: if dry_run { "#dry-run" } else { "" },
            history,
            policy,
        }
    }

    pub fn policy(&self) -> &SafeguardPolicy {
        &self.policy
    }

    /// The window across every account.
    fn ceiling(&self) -> Window<'_> {
        Window {
            history: &self.history,
            kind: self.policy.kind,
            partition: format!("SAFEGUARD#{}{}", self.policy.kind, self.suffix),
            limit: self.policy.total,
            window: self.policy.window,
            scope: "across every account".to_owned(),
        }
    }

    /// The window of one account.
    fn of_account(&self, account: &str) -> Window<'_> {
        Window {
            history: &self.history,
            kind: self.policy.kind,
            partition: format!(
                "SAFEGUARD-ACCOUNT#{account}#{}{}",
                self.policy.kind, self.suffix
            ),
            limit: self.policy.limit,
            window: self.policy.window,
            scope: format!("in account {account}"),
        }
    }

    /// Takes a slot for `holder` of `account` at `now`, or says why not.
    pub async fn acquire(&self, account: &str, holder: &str, now: SystemTime) -> SlotDecision {
        let survey = self.survey(account, holder, now).await;
        self.claim(survey, holder, now).await
    }

    /// Reads which slots look free in both windows, at once. Only a read: the pipeline runs
    /// it beside its other first-round reads so that taking a slot costs one more round
    /// trip, not two.
    pub async fn survey(&self, account: &str, holder: &str, now: SystemTime) -> Survey {
        let (local, ceiling) = (self.of_account(account), self.ceiling());
        let (local, total) = tokio::join!(local.survey(holder, now), ceiling.survey(holder, now));
        Survey {
            account: account.to_owned(),
            local,
            total,
        }
    }

    /// A slot in the account's window and one in the ceiling's, taken together in one
    /// transaction (one round trip, never one without the other). A slot taken by someone
    /// else since the survey cancels the transaction and the next one of that window is
    /// tried; none left is a refusal, never a wait.
    pub async fn claim(&self, survey: Survey, holder: &str, now: SystemTime) -> SlotDecision {
        let (local, ceiling) = (self.of_account(&survey.account), self.ceiling());
        for w in [&local, &ceiling] {
            if w.limit == 0 {
                return w.refusal(None);
            }
        }
        let mut locals = match survey.local.free {
            Ok(c) => c.into_iter(),
            Err(message) => return local.refusal(Some(message)),
        };
        let mut totals = match survey.total.free {
            Ok(c) => c.into_iter(),
            Err(message) => return ceiling.refusal(Some(message)),
        };
        let now_ms = epoch_millis(now);
        let (mut l, mut t) = (locals.next(), totals.next());
        loop {
            let (Some(ls), Some(ts)) = (l, t) else {
                return if l.is_none() {
                    local.refusal(None)
                } else {
                    ceiling.refusal(None)
                };
            };
            match self
                .take_both(&local, ls, &ceiling, ts, holder, now_ms)
                .await
            {
                Ok(Taken::Both) => return SlotDecision::Granted { slot: ls },
                Ok(Taken::Neither {
                    local_busy,
                    total_busy,
                }) => {
                    if local_busy {
                        l = locals.next();
                    }
                    if total_busy {
                        t = totals.next();
                    }
                }
                Err(message) => return local.refusal(Some(message)),
            }
        }
    }

    /// One transaction of the two conditional writes.
    async fn take_both(
        &self,
        local: &Window<'_>,
        local_slot: u32,
        ceiling: &Window<'_>,
        total_slot: u32,
        holder: &str,
        now_ms: u64,
    ) -> Result<Taken, String> {
        let item = |w: &Window<'_>, slot| {
            w.put(slot, holder, now_ms)
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| e.to_string())
        };
        let result = self
            .history
            .client()
            .transact_write_items()
            .transact_items(item(local, local_slot)?)
            .transact_items(item(ceiling, total_slot)?)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Taken::Both),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        {
            // One reason per item, in order; a conflict with another transaction on a slot is
            // someone else taking it.
            let busy = |i: usize| {
                c.cancellation_reasons()
                    .get(i)
                    .and_then(|r| r.code())
                    .is_some_and(|code| code != "None")
            };
            let (local_busy, total_busy) = (busy(0), busy(1));
            if local_busy || total_busy {
                return Ok(Taken::Neither {
                    local_busy,
                    total_busy,
                });
            }
        }
        Err(sdk_message(&e))
    }
}

/// What a transaction of two slots did.
enum Taken {
    Both,
    /// Cancelled: which of the two was taken by someone else.
    Neither {
        local_busy: bool,
        total_busy: bool,
    },
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
            total: SafeguardPolicy::default_total(3),
        };
        assert_eq!(p.describe(), "3 isolate per 60 min per account, 12 in all");
    }
}
