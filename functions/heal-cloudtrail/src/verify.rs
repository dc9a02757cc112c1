//! The verdict on a trail or a store: its live state and baseline read, then judged. The
//! judging (`Judge`, `judge_store`) is pure: it takes what was read and does no I/O.

use serde_json::{Value, json};
use tourniquet::console;
use tourniquet::history::History;
use tourniquet::{Context, Severity, Subject, Trigger, Verdict, VerifyError};
use tourniquet_trail::{TrailConfig, TrailRef, weaknesses};

use tourniquet::members::PerScope;

use crate::clients::Clients;
use crate::store::{self, Ingestion, StoreRef};
use crate::trail;
use crate::watched::Heal;

/// A trail's verdict, from its live configuration and its baseline, read at once.
pub async fn of_trail(
    ctx: &Context<'_>,
    clients: &PerScope<Clients>,
    history: &History,
    partition: &str,
    trail: &TrailRef,
) -> Result<Verdict<Heal>, VerifyError> {
    let (live, baseline) = tokio::join!(
        trail::read(clients, trail),
        trail::read_baseline(history, trail)
    );
    let live = live.map_err(VerifyError::read)?;
    let judge = Judge {
        trail,
        trigger: ctx.trigger,
        partition,
    };
    judge.verdict(live, baseline)
}

/// What a trail's verdict depends on besides its live configuration and its baseline: the
/// trail, the event that asked, and the partition (for the console link).
pub struct Judge<'a> {
    pub trail: &'a TrailRef,
    pub trigger: &'a Trigger,
    pub partition: &'a str,
}

impl Judge<'_> {
    /// The verdict on the trail: `live` is `None` when the trail does not exist, `baseline`
    /// an error when history cannot be read.
    pub fn verdict(
        &self,
        live: Option<TrailConfig>,
        baseline: Result<Option<TrailConfig>, String>,
    ) -> Result<Verdict<Heal>, VerifyError> {
        let trail = self.trail;
        let baseline = match (baseline, &live) {
            (Ok(b), _) => b,
            // History is unreachable: a stopped trail is still restarted (only ever a
            // restore), anything else waits for its baseline.
            (Err(e), Some(live)) if !live.logging => {
                let summary = format!(
                    "trail {} is not logging (its baseline cannot be read: {e})",
                    trail.name
                );
                let problems = ["logging turned off".to_owned()];
                let heal = Heal::StartLogging { live: live.clone() };
                return Ok(self.subject(heal, summary, &problems));
            }
            (Err(e), _) => return Err(VerifyError::read(e)),
        };
        Ok(match (live, baseline) {
            (None, baseline) => self.gone(baseline),
            (Some(live), Some(baseline)) => self.against(live, baseline),
            (Some(live), None) => self.without_baseline(live),
        })
    }

    /// Whether the event is a call that failed.
    fn failed_call(&self) -> bool {
        matches!(self.trigger, Trigger::ApiCall(_, c) if c.error_code.is_some())
    }

    /// Only the audit keeps a configuration as the last known good one: an event may come
    /// from the attacker's own change, and a first baseline taken then would be theirs.
    fn audit(&self) -> bool {
        matches!(self.trigger, Trigger::Scheduled(_))
    }

    /// The trail does not exist.
    fn gone(&self, baseline: Option<TrailConfig>) -> Verdict<Heal> {
        let trail = self.trail;
        match baseline {
            Some(baseline) => {
                let summary = format!("trail {} was deleted", trail.name);
                self.subject(Heal::Recreate { baseline }, summary, &[])
            }
            None if self.failed_call() => Verdict::NothingToDo(format!(
                "the call failed and trail {} does not exist",
                trail.name
            )),
            None => Verdict::Notice {
                severity: Severity::Critical,
                headline: format!("trail {} deleted, cannot heal", trail.name),
                detail: format!(
                    "Trail {} is gone and no known good configuration of it is in history, so it \
                     cannot be recreated automatically. A person must recreate it now.",
                    trail.arn
                ),
                facts: json!({"trail": trail}),
            },
        }
    }

    /// The trail exists and has a baseline: whatever is weaker is restored.
    fn against(&self, live: TrailConfig, baseline: TrailConfig) -> Verdict<Heal> {
        let trail = self.trail;
        let problems = weaknesses(&live, &baseline);
        if problems.is_empty() && !self.audit() {
            return Verdict::AlreadyRemediated(format!(
                "trail {} is as its last known good configuration, or stronger",
                trail.name
            ));
        }
        if problems.is_empty() {
            // Never weaker than the baseline: what it adds becomes known good.
            return Verdict::Healthy {
                reason: format!("trail {} is healthy (baseline refreshed)", trail.name),
                known_good: json!(live),
            };
        }
        let summary = format!("trail {}: {}", trail.name, problems.join("; "));
        let heal = Heal::Restore {
            live: Box::new(live),
            baseline: Box::new(baseline),
        };
        self.subject(heal, summary, &problems)
    }

    /// The trail exists and no baseline is known: the audit records a healthy one; a stopped
    /// trail is restarted; anything else weakened is told.
    fn without_baseline(&self, live: TrailConfig) -> Verdict<Heal> {
        let trail = self.trail;
        if live.logging && self.audit() && live.delivery_error.is_none() {
            return Verdict::Healthy {
                reason: format!(
                    "trail {} is logging; no earlier baseline, this one recorded",
                    trail.name
                ),
                known_good: json!(live),
            };
        }
        if live.logging {
            return self.weakened_without_baseline(live);
        }
        let summary = format!("trail {} is not logging (no baseline known)", trail.name);
        let problems = ["logging turned off".to_owned()];
        self.subject(Heal::StartLogging { live }, summary, &problems)
    }

    /// A logging trail with no baseline: what the call weakened, and whether logs are
    /// delivered, told to a person (nothing is known to restore it to).
    fn weakened_without_baseline(&self, live: TrailConfig) -> Verdict<Heal> {
        let trail = self.trail;
        let changed = match self.trigger {
            Trigger::ApiCall(_, call) => {
                tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters)
            }
            _ => Vec::new(),
        };
        if changed.is_empty() && live.delivery_error.is_none() {
            return Verdict::NothingToDo(format!(
                "trail {} is logging; no known good configuration yet (the audit records one)",
                trail.name
            ));
        }
        let mut what = changed;
        what.extend(
            live.delivery_error
                .iter()
                .map(|e| format!("logs not delivered: {e}")),
        );
        Verdict::Notice {
            severity: Severity::Critical,
            headline: format!("trail {} weakened, cannot heal", trail.name),
            detail: format!(
                "Trail {} is weakened ({}) and no known good configuration of it is in history \
                 yet, so nothing can be restored automatically. A person must put it right; the \
                 daily audit then records it as known good.",
                trail.arn,
                what.join("; ")
            ),
            facts: json!({"trail": trail, "weakened": what}),
        }
    }

    /// The heal, as the pipeline records and tells it.
    fn subject(&self, heal: Heal, summary: String, problems: &[String]) -> Verdict<Heal> {
        let trail = self.trail;
        let (before, plan, undo) = before_plan_undo(&heal, problems);
        Verdict::Act(Subject {
            subject: heal,
            before,
            summary,
            plan,
            undo,
            next_steps: next_steps(),
            links: vec![console::trail(
                self.partition,
                &trail.home_region,
                &trail.arn,
            )],
        })
    }
}

/// What a heal starts from, what it does, and how to undo it.
fn before_plan_undo(heal: &Heal, problems: &[String]) -> (Value, Vec<String>, Vec<String>) {
    match heal {
        Heal::Recreate { baseline } => (
            json!({"trail": null, "baseline": baseline}),
            vec![
                format!("create trail {} from its baseline", baseline.trail.name),
                "restore its event selectors".into(),
                "start logging".into(),
            ],
            vec![format!(
                "aws cloudtrail delete-trail --name {}",
                baseline.trail.arn
            )],
        ),
        Heal::Restore { live, baseline } => (
            json!({"trail": live, "baseline": baseline}),
            problems.iter().map(|p| format!("undo: {p}")).collect(),
            vec!["the trail's previous settings are in the history table (state before)".into()],
        ),
        Heal::Ingestion { store, .. } => (
            json!({"store": store}),
            vec!["start ingestion".into()],
            Vec::new(),
        ),
        Heal::StartLogging { live } => (
            json!({"trail": live}),
            vec!["start logging".into()],
            vec![format!(
                "aws cloudtrail stop-logging --name {}",
                live.trail.arn
            )],
        ),
    }
}

/// What a person does after a trail's heal.
fn next_steps() -> Vec<String> {
    vec![
        "Find what was done while the trail was not as its last known good configuration: \
         CloudTrail's event history keeps 90 days of management events even when no trail \
         logs."
            .to_owned(),
        "The principal who changed the trail is counted as an offender by disable-offender: \
         look at its other calls, and at who gave it the permission."
            .to_owned(),
        "If the change was intended, make it through the change process and tell the \
         security team: Tourniquet restores the last known good configuration every time."
            .to_owned(),
    ]
}

/// A store is healed when a call stopped it, or when the audit finds stopped a store it
/// once saw ingesting; the audit records each store it sees ingesting.
pub async fn of_store(
    ctx: &Context<'_>,
    clients: &PerScope<Clients>,
    history: &History,
    store: &StoreRef,
) -> Result<Verdict<Heal>, VerifyError> {
    let ct = clients
        .for_key(&store.store_arn)
        .await?
        .client_for(&store.region);
    let (live, seen) = tokio::join!(
        store::ingestion(&ct, store),
        history.baseline(store::BASELINE, &store.store_arn)
    );
    let live = live.map_err(VerifyError::read)?;
    let audit = matches!(ctx.trigger, Trigger::Scheduled(_));
    let seen_ingesting = matches!(seen, Ok(Some(_)));
    Ok(judge_store(store, live, seen_ingesting, audit))
}

/// The verdict on a store, from its status, whether history saw it ingesting, and whether
/// the audit asks.
pub fn judge_store(
    store: &StoreRef,
    live: Ingestion,
    seen_ingesting: bool,
    audit: bool,
) -> Verdict<Heal> {
    let arn = &store.store_arn;
    let what = match &live {
        Ingestion::On if audit => {
            return Verdict::Healthy {
                reason: format!("event data store {arn} is ingesting"),
                known_good: json!({"ingesting": true}),
            };
        }
        Ingestion::On => {
            return Verdict::AlreadyRemediated(format!("event data store {arn} is ingesting"));
        }
        Ingestion::Gone if seen_ingesting => {
            return Verdict::Notice {
                severity: Severity::Critical,
                headline: format!("event data store deleted: {arn}"),
                detail: format!(
                    "Event data store {arn} is gone for good, with the events it kept. A \
                     person must look at who deleted it and what it held."
                ),
                facts: json!({"store": store}),
            };
        }
        Ingestion::Gone => {
            return Verdict::NothingToDo(format!("event data store {arn} does not exist"));
        }
        _ if audit && !seen_ingesting => {
            return Verdict::NothingToDo(format!(
                "event data store {arn} is not ingesting and was never seen ingesting: \
                 left alone"
            ));
        }
        Ingestion::PendingDeletion => "pending deletion",
        Ingestion::Stopped(_) => "not ingesting",
    };
    restart_store(store, live, what)
}

/// A stopped store or one pending deletion: restored if need be, and started.
fn restart_store(store: &StoreRef, live: Ingestion, what: &str) -> Verdict<Heal> {
    let arn = &store.store_arn;
    let restore = live == Ingestion::PendingDeletion;
    let mut plan = Vec::new();
    if restore {
        plan.push("restore the event data store".to_owned());
    }
    plan.push("start its ingestion".to_owned());
    Verdict::Act(Subject {
        before: json!({"store": store, "status": what}),
        summary: format!("event data store {arn} is {what}"),
        plan,
        undo: vec![format!(
            "aws cloudtrail stop-event-data-store-ingestion --event-data-store {arn}"
        )],
        next_steps: vec![
            "Find what was done while the store kept nothing: CloudTrail's event history \
             keeps 90 days of management events."
                .to_owned(),
        ],
        links: Vec::new(),
        subject: Heal::Ingestion {
            store: store.clone(),
            live,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_judged_from_what_was_read_alone() {
        let store = StoreRef {
            store_arn: "arn:aws:cloudtrail:eu-west-1:1:eventdatastore/abc".into(),
            region: "eu-west-1".into(),
        };
        let stopped = Ingestion::Stopped("STOPPED_INGESTION".into());
        assert!(matches!(
            judge_store(&store, stopped.clone(), false, true),
            Verdict::NothingToDo(_)
        ));
        let Verdict::Act(subject) = judge_store(&store, stopped, false, false) else {
            panic!("a stopped store is started again after a call stopped it");
        };
        assert_eq!(subject.plan, ["start its ingestion"]);
        let Verdict::Act(subject) = judge_store(&store, Ingestion::PendingDeletion, true, true)
        else {
            panic!("a store seen ingesting and pending deletion is restored");
        };
        assert_eq!(
            subject.plan,
            ["restore the event data store", "start its ingestion"]
        );
    }
}
