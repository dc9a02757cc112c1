//! The run's decisions, without AWS: the ledger and the pager are in memory, the
//! remediation is a counter.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::*;
use crate::contract::{Step, Subject, Verdict, VerifyError};
use crate::history::{Incident, IncidentStatus};
use crate::ledger::memory::MemoryLedger;
use crate::ledger::{Lock, LockRequest};
use crate::notify::Severity;
use crate::notify::pager::memory::MemoryPager;
use crate::safeguard::{Safeguard, SafeguardPolicy};

const INSTANCE: &str = "i-0123456789abcdef0";

fn framework() -> Framework {
    crate::framework::offline()
}

/// A remediation that counts its actions and can be made slow.
#[derive(Default)]
struct Fake {
    acted: AtomicUsize,
    /// How long `act` takes.
    slow: Option<Duration>,
    safeguard: Option<Safeguard>,
    resumed_from: Mutex<Option<Value>>,
}

impl Remediation for Fake {
    type Target = ();
    type Subject = ();

    fn action(&self) -> &'static str {
        "fake"
    }
    fn done(&self) -> &'static str {
        "faked"
    }
    fn counters_actor(&self) -> bool {
        false
    }
    fn safeguard(&self) -> Option<&Safeguard> {
        self.safeguard.as_ref()
    }
    async fn intake(&self, trigger: &Trigger) -> Result<Intake<()>, IntakeError> {
        match trigger {
            Trigger::Direct(d) => Ok(Intake::Cases(
                d.instance_ids
                    .iter()
                    .map(|id| Case {
                        resource: id.clone(),
                        target: (),
                    })
                    .collect(),
            )),
            _ => Ok(Intake::Ignore("direct only".into())),
        }
    }
    async fn verify(&self, _: &Context<'_>, _: &Case<()>) -> Result<Verdict<()>, VerifyError> {
        Ok(Verdict::Act(Subject {
            subject: (),
            before: json!({"groups": ["sg-original"]}),
            summary: "a fake resource".into(),
            plan: vec!["cut it off".into()],
            undo: vec!["put it back".into()],
            next_steps: vec!["look at it".into()],
            links: Vec::new(),
        }))
    }
    async fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<()>,
        before: &Value,
    ) -> Result<Verdict<()>, VerifyError> {
        *self.resumed_from.lock().unwrap() = Some(before.clone());
        let mut verdict = self.verify(ctx, case).await?;
        if let Verdict::Act(s) = &mut verdict {
            s.before = before.clone();
        }
        Ok(verdict)
    }
    async fn act(&self, _: &Context<'_>, _: &Case<()>, _: &()) -> Vec<Step> {
        if let Some(d) = self.slow {
            tokio::time::sleep(d).await;
        }
        self.acted.fetch_add(1, Ordering::SeqCst);
        vec![Step::ok("cut", "cut off")]
    }
}

/// The framework offline, with an in-memory ledger and pager.
struct Bench {
    fw: Framework,
    ledger: MemoryLedger,
    pager: MemoryPager,
}

impl Bench {
    fn new() -> Self {
        Self::with(MemoryLedger::default())
    }
    fn with(ledger: MemoryLedger) -> Self {
        Self {
            fw: framework(),
            ledger,
            pager: MemoryPager::default(),
        }
    }
    fn run(&self) -> Run<'_, MemoryLedger, MemoryPager> {
        Run {
            fw: &self.fw,
            ledger: &self.ledger,
            pager: &self.pager,
        }
    }
}

/// A remediation whose safeguard takes no case: every one is held.
fn holding_every_case(b: &Bench) -> Fake {
    Fake {
        safeguard: Some(b.fw.safeguard(SafeguardPolicy {
            kind: "fake",
            limit: 0,
            window: Duration::from_secs(3600),
            total: 0,
        })),
        ..Fake::default()
    }
}

fn direct() -> Value {
    json!({"instance_ids": [INSTANCE], "reason": "test"})
}

fn only(summary: &Summary) -> &CaseReport {
    assert_eq!(summary.cases.len(), 1, "{summary:?}");
    &summary.cases[0]
}

/// Opens an incident as another invocation would have, with the state before recorded.
async fn opened_elsewhere(ledger: &MemoryLedger, lease_until: SystemTime) -> String {
    let now = SystemTime::now();
    let id = Incident::key(now, "request-dead", INSTANCE);
    let lock = ledger
        .lock(&LockRequest {
            action: "fake",
            resource: INSTANCE,
            function: "fake",
            delivery: "request-dead",
            incident: &id,
            target: &Value::Null,
            now,
            lease_until,
        })
        .await
        .unwrap();
    assert_eq!(
        lock,
        Lock::Opened {
            remediated: None,
            left: None
        }
    );
    let incident = Incident {
        id: id.clone(),
        function: "fake".into(),
        action: "fake".into(),
        resource: INSTANCE.into(),
        account: "111122223333".into(),
        region: "us-east-1".into(),
        delivery_id: "request-dead".into(),
        trigger: "direct invocation".into(),
        actor: None,
        opened_at: now,
        before: json!({"groups": ["sg-recorded-at-open"]}),
    };
    Ledger::open_incident(ledger, &incident, IncidentStatus::InProgress)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_trigger_for_an_open_incident_joins_it() {
    let (b, fake) = (Bench::new(), Fake::default());
    let (ledger, pager) = (&b.ledger, &b.pager);
    let id = opened_elsewhere(ledger, SystemTime::now() + Duration::from_secs(60)).await;
    let run = b.run();
    let summary = run.handle(&fake, &direct(), "second", None).await.unwrap();
    assert_eq!(only(&summary).outcome, Outcome::Joined { incident: id });
    assert_eq!(
        fake.acted.load(Ordering::SeqCst),
        0,
        "no second set of changes"
    );
    assert!(pager.taken().is_empty(), "no second notification");
    assert!(
        ledger.is_open("fake", INSTANCE),
        "the first incident is still open"
    );
    // The joining delivery, delivered again, is a duplicate.
    let again = run.handle(&fake, &direct(), "second", None).await.unwrap();
    assert_eq!(only(&again).outcome, Outcome::Duplicate);
}

#[tokio::test]
async fn an_abandoned_incident_is_resumed_from_its_recorded_state() {
    let (b, fake) = (Bench::new(), Fake::default());
    let (ledger, pager) = (&b.ledger, &b.pager);
    opened_elsewhere(ledger, SystemTime::now() - Duration::from_secs(1)).await;
    let run = b.run();
    let summary = run.handle(&fake, &direct(), "retry", None).await.unwrap();
    let case = only(&summary);
    assert!(case.resumed);
    assert!(
        matches!(case.outcome, Outcome::Remediated { .. }),
        "{case:?}"
    );
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1);
    assert_eq!(
        *fake.resumed_from.lock().unwrap(),
        Some(json!({"groups": ["sg-recorded-at-open"]})),
        "the state before is the one recorded at open, never re-read half-way"
    );
    let sent = pager.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].severity, Severity::Warning);
    assert!(
        sent[0].headline.starts_with("resumed: "),
        "{}",
        sent[0].headline
    );
    assert!(!ledger.is_open("fake", INSTANCE));
    assert_eq!(ledger.status(INSTANCE), vec!["remediated"]);
}

#[tokio::test]
async fn the_sweep_resumes_abandoned_incidents_and_nothing_else() {
    let (b, fake) = (Bench::new(), Fake::default());
    let ledger = &b.ledger;
    let run = b.run();
    let sweep = json!({"tourniquet": "sweep"});
    let idle = run.handle(&fake, &sweep, "sweep-1", None).await.unwrap();
    assert!(idle.cases.is_empty());
    opened_elsewhere(ledger, SystemTime::now() - Duration::from_secs(1)).await;
    let swept = run.handle(&fake, &sweep, "sweep-2", None).await.unwrap();
    assert!(only(&swept).resumed);
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1);
    assert!(!ledger.is_open("fake", INSTANCE));
}

#[tokio::test]
async fn a_refused_slot_holds_the_case_and_wakes_a_human() {
    let b = Bench::new();
    let fake = holding_every_case(&b);
    let (ledger, pager) = (&b.ledger, &b.pager);
    let run = b.run();
    let summary = run.handle(&fake, &direct(), "r", None).await.unwrap();
    assert!(matches!(only(&summary).outcome, Outcome::Held { .. }));
    assert_eq!(fake.acted.load(Ordering::SeqCst), 0);
    let sent = pager.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].severity, Severity::Critical);
    assert_eq!(ledger.status(INSTANCE), vec!["held"]);
    assert!(!ledger.is_open("fake", INSTANCE));
}

#[tokio::test]
async fn a_record_that_cannot_be_written_holds_the_case() {
    let (b, fake) = (
        Bench::with(MemoryLedger::failing_records()),
        Fake::default(),
    );
    let pager = &b.pager;
    let run = b.run();
    let summary = run.handle(&fake, &direct(), "r", None).await.unwrap();
    let Outcome::Held { reason } = &only(&summary).outcome else {
        panic!("{summary:?}");
    };
    assert!(reason.contains("cannot record before acting"), "{reason}");
    assert_eq!(
        fake.acted.load(Ordering::SeqCst),
        0,
        "nothing acts unrecorded"
    );
    assert_eq!(pager.taken()[0].severity, Severity::Critical);
}

#[tokio::test]
async fn out_of_time_pages_errs_and_the_retry_resumes_at_once() {
    let b = Bench::new();
    let (ledger, pager) = (&b.ledger, &b.pager);
    let slow = Fake {
        slow: Some(Duration::from_secs(30)),
        ..Fake::default()
    };
    let run = b.run();
    let deadline = SystemTime::now() + RESERVE + Duration::from_millis(200);
    let err = run
        .handle(&slow, &direct(), "r", Some(deadline))
        .await
        .unwrap_err();
    assert!(matches!(err, HandleError::Unfinished(_)), "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "UnfinishedRetryResumes");
    let sent = pager.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].severity, Severity::Critical);
    assert!(
        sent[0].body.iter().any(|p| p.contains("cut it off")),
        "names what is not done"
    );
    assert!(ledger.is_open("fake", INSTANCE), "the incident stays open");

    // Lambda's retry of the same request: the lease ended with the invocation.
    let fast = Fake::default();
    let summary = run.handle(&fast, &direct(), "r", None).await.unwrap();
    assert!(only(&summary).resumed);
    assert_eq!(fast.acted.load(Ordering::SeqCst), 1);
    assert!(!ledger.is_open("fake", INSTANCE));
}

#[tokio::test]
async fn function_errors_have_names_a_person_reads() {
    let (b, fake) = (Bench::new(), Fake::default());
    let pager = &b.pager;
    let run = b.run();
    let err = run.handle(&fake, &json!("x"), "r", None).await.unwrap_err();
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "RejectedInput");
    assert!(diagnostic.error_message.contains("rejected input"));
    assert!(pager.taken().is_empty());
}

#[tokio::test]
async fn a_delivery_is_a_duplicate_after_its_incident_closed() {
    let (b, fake) = (Bench::new(), Fake::default());
    let pager = &b.pager;
    let run = b.run();
    let first = run.handle(&fake, &direct(), "r", None).await.unwrap();
    assert!(matches!(only(&first).outcome, Outcome::Remediated { .. }));
    let again = run.handle(&fake, &direct(), "r", None).await.unwrap();
    assert_eq!(only(&again).outcome, Outcome::Duplicate);
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1);
    assert_eq!(pager.taken().len(), 1);
}

#[tokio::test]
async fn a_notification_sns_refused_is_sent_by_the_retry() {
    let (b, fake) = (Bench::new(), Fake::default());
    let run = b.run();
    b.pager.refuse.store(true, Ordering::SeqCst);
    let first = run.handle(&fake, &direct(), "request-1", None).await;
    assert!(
        matches!(&first, Err(HandleError::Retry(m)) if m.contains("kept for the retry")),
        "{first:?}"
    );
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1);
    assert!(b.pager.taken().is_empty());

    // Lambda's retry of the same request: nothing is done again, the message goes out.
    b.pager.refuse.store(false, Ordering::SeqCst);
    let retry = run
        .handle(&fake, &direct(), "request-1", None)
        .await
        .unwrap();
    assert_eq!(only(&retry).outcome, Outcome::Duplicate);
    assert_eq!(only(&retry).notified, Some(Severity::Warning));
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1, "acted once");
    let sent = b.pager.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headline, format!("faked {INSTANCE}"));

    // And only once.
    let again = run
        .handle(&fake, &direct(), "request-1", None)
        .await
        .unwrap();
    assert_eq!(only(&again).notified, None);
    assert!(b.pager.taken().is_empty());
}

#[tokio::test]
async fn a_held_summary_sns_refused_is_sent_by_the_retry_once() {
    let b = Bench::new();
    let fake = holding_every_case(&b);
    let run = b.run();
    let five = json!({"instance_ids": ["i-1", "i-2", "i-3", "i-4", "i-5"], "reason": "test"});
    b.pager.refuse.store(true, Ordering::SeqCst);
    let first = run.handle(&fake, &five, "request-1", None).await;
    assert!(
        matches!(&first, Err(HandleError::Retry(m)) if m.contains("held 5 cases")),
        "{first:?}"
    );
    b.pager.refuse.store(false, Ordering::SeqCst);
    let retry = run.handle(&fake, &five, "request-1", None).await.unwrap();
    assert!(retry.cases.iter().all(|c| c.outcome == Outcome::Duplicate));
    let sent = b.pager.taken();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].headline, "held 5 cases, nothing done");
    run.handle(&fake, &five, "request-1", None).await.unwrap();
    assert!(b.pager.taken().is_empty(), "sent once");
    assert_eq!(fake.acted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_kept_notification_whose_retries_gave_up_is_sent_by_the_sweep() {
    let (b, fake) = (Bench::new(), Fake::default());
    let run = b.run();
    b.pager.refuse.store(true, Ordering::SeqCst);
    let first = run.handle(&fake, &direct(), "request-1", None).await;
    assert!(matches!(first, Err(HandleError::Retry(_))), "{first:?}");
    // Lambda's retries failed too, or never came: the next sweep sends it. Not before the
    // lease margin has passed: until then it may be an invocation's about to publish it.
    b.pager.refuse.store(false, Ordering::SeqCst);
    let early = run
        .handle(&fake, &json!({"tourniquet": "sweep"}), "sweep-0", None)
        .await
        .unwrap();
    assert!(early.cases.is_empty(), "left to its invocation: {early:?}");
    b.ledger.age_kept(Duration::from_secs(31));
    let sweep = run
        .handle(&fake, &json!({"tourniquet": "sweep"}), "sweep-1", None)
        .await
        .unwrap();
    assert_eq!(only(&sweep).notified, Some(Severity::Warning));
    assert_eq!(b.pager.taken().len(), 1);
    let again = run
        .handle(&fake, &json!({"tourniquet": "sweep"}), "sweep-2", None)
        .await
        .unwrap();
    assert!(again.cases.is_empty(), "sent once: {again:?}");
    assert!(b.pager.taken().is_empty());
}

/// Delivers `delivery` with a pager whose publish never returns, so the invocation dies
/// there, after the incident closed; the pager answers again afterwards.
async fn dies_at_its_publish(b: &Bench, fake: &Fake, delivery: &str) {
    b.pager.hang.store(true, Ordering::SeqCst);
    let died = tokio::time::timeout(
        Duration::from_millis(200),
        b.run().handle(fake, &direct(), delivery, None),
    )
    .await;
    assert!(died.is_err(), "the invocation died at its publish");
    b.pager.hang.store(false, Ordering::SeqCst);
}

#[tokio::test]
async fn an_invocation_that_dies_between_its_close_and_its_message_is_told_by_the_retry() {
    let (b, fake) = (Bench::new(), Fake::default());
    let run = b.run();
    dies_at_its_publish(&b, &fake, "request-1").await;
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1);
    assert!(
        !b.ledger.is_open("fake", INSTANCE),
        "closed before the publish"
    );
    // Lambda's retry of the same delivery finds the message kept with the close.
    let retry = run
        .handle(&fake, &direct(), "request-1", None)
        .await
        .unwrap();
    assert_eq!(only(&retry).notified, Some(Severity::Warning));
    let sent = b.pager.taken();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].action, "fake",
        "the message of the isolation itself"
    );
    assert_eq!(fake.acted.load(Ordering::SeqCst), 1, "nothing done twice");
    // Sent once: neither another retry nor the sweep sends it again.
    let again = run
        .handle(&fake, &direct(), "request-1", None)
        .await
        .unwrap();
    assert_eq!(only(&again).outcome, Outcome::Duplicate);
    b.ledger.age_kept(Duration::from_secs(31));
    let sweep = run
        .handle(&fake, &json!({"tourniquet": "sweep"}), "sweep-1", None)
        .await
        .unwrap();
    assert!(sweep.cases.is_empty(), "{sweep:?}");
    assert!(b.pager.taken().is_empty());
}

#[tokio::test]
async fn the_delivery_of_an_incident_still_under_its_lease_is_retried_not_a_duplicate() {
    let (b, fake) = (Bench::new(), Fake::default());
    opened_elsewhere(&b.ledger, SystemTime::now() + Duration::from_secs(60)).await;
    let run = b.run();
    // Lambda's retry of the delivery whose invocation holds the lease (or died with it): a
    // direct invocation's delivery is its request id.
    let retry = run.handle(&fake, &direct(), "dead", None).await;
    match retry {
        Err(e @ HandleError::Retry(_)) => assert_eq!(e.kind(), "RetryLater"),
        other => panic!("expected RetryLater, got {other:?}"),
    }
    assert_eq!(fake.acted.load(Ordering::SeqCst), 0);
    assert!(b.ledger.is_open("fake", INSTANCE), "left to its lease");
    assert!(b.pager.taken().is_empty());
}

#[tokio::test]
async fn a_new_incident_first_sends_what_the_last_one_left_unsaid() {
    let (b, fake) = (Bench::new(), Fake::default());
    let run = b.run();
    dies_at_its_publish(&b, &fake, "request-1").await;
    // A new event about the resource comes before the first one's retry.
    let next = run
        .handle(&fake, &direct(), "request-2", None)
        .await
        .unwrap();
    assert_eq!(only(&next).outcome.name(), "remediated");
    let sent = b.pager.taken();
    assert_eq!(sent.len(), 2, "the left message and this one: {sent:?}");
    assert!(sent.iter().all(|n| n.action == "fake"));
    // Nothing is left for the sweep to send again.
    b.ledger.age_kept(Duration::from_secs(31));
    let sweep = run
        .handle(&fake, &json!({"tourniquet": "sweep"}), "sweep-1", None)
        .await
        .unwrap();
    assert!(sweep.cases.is_empty(), "{sweep:?}");
}
