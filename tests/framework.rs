//! The framework's pipeline against the emulator, through a minimal remediation ("probe")
//! whose action is a tag on an EC2 instance, so every outcome is visible in AWS state.

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tourniquet::errors::AwsError;
use tourniquet::events::fields;
use tourniquet::pipeline::{HandleError, handle};
use tourniquet::safeguard::{Safeguard, SafeguardPolicy, SlotDecision};
use tourniquet::{
    Case, Context, Intake, IntakeError, Outcome, Remediation, Step, Subject, Trigger, Verdict,
};
use tourniquet::{Framework, VerifyError};
use tourniquet_tests::ec2::{launch, tag, tags_of};
use tourniquet_tests::{ACCOUNT, Account, attr, raced, sample, tally};

const FUNCTION: &str = "probe";

struct Probe {
    ec2: aws_sdk_ec2::Client,
    safeguard: Option<Safeguard>,
}

impl Probe {
    fn new(fw: &Framework, limit: Option<u32>) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(&fw.sdk),
            safeguard: limit.map(|limit| {
                fw.safeguard(SafeguardPolicy {
                    kind: "probe",
                    limit,
                    window: Duration::from_secs(3600),
                    total: SafeguardPolicy::default_total(limit),
                })
            }),
        }
    }
}

impl Remediation for Probe {
    type Target = ();
    type Subject = ();

    fn action(&self) -> &'static str {
        "probe"
    }
    fn done(&self) -> &'static str {
        "probed"
    }
    fn counters_actor(&self) -> bool {
        true
    }
    fn safeguard(&self) -> Option<&Safeguard> {
        self.safeguard.as_ref()
    }
    async fn intake(&self, trigger: &Trigger) -> Result<Intake<()>, IntakeError> {
        let ids: Vec<String> = match trigger {
            Trigger::Direct(d) => d.instance_ids.clone(),
            Trigger::TagChange(env, _) => env
                .resources
                .iter()
                .filter_map(|arn| arn.rsplit_once("instance/").map(|(_, id)| id.to_owned()))
                .collect(),
            Trigger::ApiCall(_, call) => {
                let params = fields("detail.requestParameters", &call.request_parameters)?;
                vec![params.str("instanceId")?.to_owned()]
            }
            Trigger::Scheduled(_) | Trigger::Sweep | Trigger::Finding(..) => {
                return Ok(Intake::Ignore("no schedule".into()));
            }
        };
        Ok(Intake::Cases(
            ids.into_iter()
                .map(|resource| Case {
                    resource,
                    target: (),
                })
                .collect(),
        ))
    }
    async fn verify(&self, _: &Context<'_>, case: &Case<()>) -> Result<Verdict<()>, VerifyError> {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(&case.resource)
            .send()
            .await
            .map_err(|e| AwsError::of("DescribeInstances", &e))?;
        let tags: Vec<(String, String)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .flat_map(|i| i.tags())
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect();
        if tags.iter().any(|(k, _)| k == "probe") {
            return Ok(Verdict::AlreadyRemediated("already probed".into()));
        }
        if tags.iter().any(|(k, _)| k == "TourniquetExempt") {
            return Ok(Verdict::Exempt(
                "the instance carries TourniquetExempt".into(),
            ));
        }
        Ok(Verdict::Act(Subject {
            subject: (),
            before: json!({"tags": tags}),
            summary: format!("instance {}", case.resource),
            plan: vec!["tag it probe=acted".into()],
            undo: vec!["remove the probe tag".into()],
            next_steps: vec!["look at the probe tag".into()],
            links: Vec::new(),
        }))
    }
    async fn act(&self, _: &Context<'_>, case: &Case<()>, _: &()) -> Vec<Step> {
        match self
            .ec2
            .create_tags()
            .resources(&case.resource)
            .tags(tag("probe", "acted"))
            .send()
            .await
        {
            Ok(_) => vec![Step::ok("tag", "probe=acted")],
            Err(e) => vec![Step::failed("tag", e.to_string())],
        }
    }
}

fn tag_change(event_id: &str, instance: &str) -> Value {
    json!({
        "version": "0", "id": event_id, "detail-type": "Tag Change on Resource", "source": "aws.tag",
        "account": ACCOUNT, "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}")],
        "detail": {"changed-tag-keys": ["Tainted"], "service": "ec2", "resource-type": "instance",
                   "version": 2, "tags": {"Tainted": "true"}}
    })
}

fn api_call(event_id: &str, instance: &str, identity: Value) -> Value {
    json!({
        "version": "0", "id": event_id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
        "account": ACCOUNT, "time": "2026-11-23T02:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventName": "StopInstances", "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1",
                   "userIdentity": identity, "requestParameters": {"instanceId": instance}}
    })
}

fn iam_user(name: &str) -> Value {
    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "userName": name,
           "accountId": ACCOUNT, "principalId": "AIDAEXAMPLE"})
}

async fn probed(account: &Account, instance: &str) -> bool {
    tags_of(&account.sdk, instance).await.contains_key("probe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_event_delivered_three_times_acts_once() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let probe = Probe::new(&fw, Some(5));
    let instance = launch(&account.sdk, 1, &[]).await.remove(0);
    let event = tag_change("ev-dedupe", &instance);

    // Two deliveries race, a third comes later (a Lambda retry).
    let mut summaries = raced(2, || handle(&fw, &probe, &event, "req-0")).await;
    summaries.push(handle(&fw, &probe, &event, "req-2").await.expect("handled"));
    assert_eq!(
        tally(&summaries),
        BTreeMap::from([("duplicate", 2), ("remediated", 1)])
    );

    assert!(probed(&account, &instance).await);
    let incidents = account.history_with(&format!("INCIDENT#{instance}")).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(attr(&incidents[0], "status"), "remediated");
    assert_eq!(attr(&incidents[0], "delivery_id"), "ev-dedupe");
    let slots = account.history_with("SAFEGUARD#probe").await;
    assert_eq!(slots.len(), 1, "one slot taken for one action");
    let notes = account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "WARNING");
    assert_eq!(notes[0].attr("function"), FUNCTION);
    assert_eq!(notes[0].attr("action"), "probe");
    assert_eq!(notes[0].attr("resource"), instance);
    assert_eq!(
        notes[0].subject,
        format!("[WARNING] probe: probed {instance}")
    );

    // A new event about the same, already remediated, instance: a no-op that says so.
    let again = handle(&fw, &probe, &tag_change("ev-other", &instance), "req-3")
        .await
        .unwrap();
    assert!(matches!(
        again.cases[0].outcome,
        Outcome::AlreadyRemediated { .. }
    ));
    assert!(account.notifications().await.is_empty());
}

fn policy(limit: u32, window_secs: u64) -> SafeguardPolicy {
    SafeguardPolicy {
        kind: "contention",
        limit,
        window: Duration::from_secs(window_secs),
        total: SafeguardPolicy::default_total(limit),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn safeguard_is_exact_under_contention() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let sg = fw.safeguard(policy(5, 3600));
    let now = SystemTime::now();
    let decisions = join_all((0..20).map(|i| {
        let sg = sg.clone();
        async move { sg.acquire(ACCOUNT, &format!("holder-{i}"), now).await }
    }))
    .await;
    let granted: Vec<u32> = decisions
        .iter()
        .filter_map(|d| match d {
            SlotDecision::Granted { slot } => Some(*slot),
            SlotDecision::Refused { .. } => None,
        })
        .collect();
    assert_eq!(granted.len(), 5, "{decisions:?}");
    let mut distinct = granted.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct, vec![0, 1, 2, 3, 4], "each slot granted once");
    for d in decisions.iter().filter(|d| !d.is_granted()) {
        let SlotDecision::Refused { reason } = d else {
            unreachable!()
        };
        assert!(reason.contains("safeguard reached: 5"), "{reason}");
    }
    assert_eq!(account.history_with("SAFEGUARD#contention").await.len(), 5);
}

/// Three accounts, three concurrent cases each, 2 per account and 3 in all: the ceiling holds
/// exactly, no account takes more than its own, and the account slots of the cases the
/// ceiling refused are given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_organization_ceiling_is_exact_under_contention() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let sg = fw.safeguard(SafeguardPolicy {
        kind: "ceiling",
        limit: 2,
        window: Duration::from_secs(3600),
        total: 3,
    });
    let now = SystemTime::now();
    let accounts = ["111111111111", "222222222222", "333333333333"];
    let decisions = join_all(accounts.iter().flat_map(|a| {
        let sg = sg.clone();
        (0..3).map(move |i| {
            let sg = sg.clone();
            async move { (*a, sg.acquire(a, &format!("{a}-{i}"), now).await) }
        })
    }))
    .await;
    let granted: Vec<&str> = decisions
        .iter()
        .filter(|(_, d)| d.is_granted())
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(granted.len(), 3, "{decisions:?}");
    for a in accounts {
        assert!(
            granted.iter().filter(|g| **g == a).count() <= 2,
            "{decisions:?}"
        );
    }
    assert_eq!(account.history_with("SAFEGUARD#ceiling").await.len(), 3);
    assert_eq!(
        account.history_with("SAFEGUARD-ACCOUNT#").await.len(),
        3,
        "the account slots of refused cases are given back"
    );
}

#[tokio::test]
async fn safeguard_holds_across_the_window_edge() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let sg = fw.safeguard(policy(2, 60));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_399_542);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    assert!(sg.acquire(ACCOUNT, "a", at(0)).await.is_granted());
    assert!(sg.acquire(ACCOUNT, "b", at(1_000)).await.is_granted());
    assert!(
        !sg.acquire(ACCOUNT, "c", at(30_000)).await.is_granted(),
        "2 in the last minute"
    );
    assert!(
        !sg.acquire(ACCOUNT, "d", at(59_999)).await.is_granted(),
        "a is still inside the window"
    );
    assert!(
        sg.acquire(ACCOUNT, "e", at(60_000)).await.is_granted(),
        "a left the window"
    );
    assert!(
        !sg.acquire(ACCOUNT, "f", at(60_500)).await.is_granted(),
        "b and e are inside"
    );
    assert!(
        sg.acquire(ACCOUNT, "g", at(61_000)).await.is_granted(),
        "b left the window"
    );
    // Every 60 s window now holds at most 2: [1 s, 61 s) holds b and e; [60 s, 120 s) e and g.
    assert!(!sg.acquire(ACCOUNT, "h", at(119_999)).await.is_granted());
}

#[tokio::test]
async fn safeguard_limit_zero_and_unavailable_table_refuse() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let zero = fw.safeguard(policy(0, 60));
    let SlotDecision::Refused { reason } = zero.acquire(ACCOUNT, "a", SystemTime::now()).await
    else {
        panic!("limit 0 must refuse")
    };
    assert!(reason.contains("every case goes to a human"), "{reason}");
    assert!(
        account.history_items().await.is_empty(),
        "limit 0 writes nothing"
    );

    let broken = account
        .framework(FUNCTION, &[("HISTORY_TABLE", "no-such-table")])
        .await
        .safeguard(policy(3, 60));
    let SlotDecision::Refused { reason } = broken.acquire(ACCOUNT, "a", SystemTime::now()).await
    else {
        panic!("an unavailable table must refuse")
    };
    assert!(reason.contains("failing closed"), "{reason}");
}

#[tokio::test]
async fn safeguard_holds_through_the_pipeline_and_wakes_a_human() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let probe = Probe::new(&fw, Some(0));
    let instance = launch(&account.sdk, 1, &[]).await.remove(0);
    let summary = handle(&fw, &probe, &tag_change("ev-held", &instance), "r")
        .await
        .unwrap();
    assert!(matches!(summary.cases[0].outcome, Outcome::Held { .. }));
    assert!(!probed(&account, &instance).await);
    let incidents = account.history_with(&format!("INCIDENT#{instance}")).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(attr(&incidents[0], "status"), "held");
    let notes = account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert_eq!(notes[0].attr("action"), "held");
    assert!(
        notes[0].message.contains("A person must decide"),
        "{}",
        notes[0].message
    );
    assert_eq!(notes[0].facts()["facts"]["outcome"]["outcome"], "held");
}

#[tokio::test]
async fn dry_run_records_and_notifies_but_changes_nothing() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[("DRY_RUN", "true")]).await;
    let probe = Probe::new(&fw, Some(1));
    let instance = launch(&account.sdk, 1, &[]).await.remove(0);
    let summary = handle(&fw, &probe, &tag_change("ev-dry", &instance), "r")
        .await
        .unwrap();
    assert!(summary.dry_run);
    let Outcome::DryRun { plan } = &summary.cases[0].outcome else {
        panic!("{:?}", summary.cases[0].outcome)
    };
    assert_eq!(plan, &vec!["tag it probe=acted".to_owned()]);
    assert!(
        !probed(&account, &instance).await,
        "dry run changed the instance"
    );
    let incidents = account.history_with(&format!("INCIDENT#{instance}")).await;
    assert_eq!(attr(&incidents[0], "status"), "dry-run");
    // Dry runs count in their own window: rehearsing uses up no real slot.
    let slots = account.history_with("SAFEGUARD#probe").await;
    assert_eq!(slots.len(), 1);
    assert_eq!(attr(&slots[0], "pk"), "SAFEGUARD#probe#dry-run");
    let notes = account.notifications().await;
    assert_eq!(notes.len(), 1);
    // Nothing is contained in a dry run: a person decides today.
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(
        notes[0].subject.contains("dry run: would have probed"),
        "{}",
        notes[0].subject
    );
    assert!(notes[0].message.contains("DRY RUN: nothing was changed"));
}

#[tokio::test]
async fn exemptions_short_circuit() {
    let account = Account::new().await;
    let fw = account
        .framework(
            FUNCTION,
            &[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/breakglass-*")],
        )
        .await;
    let probe = Probe::new(&fw, Some(5));
    let plain = launch(&account.sdk, 1, &[]).await.remove(0);
    let exempt = launch(&account.sdk, 1, &[("TourniquetExempt", "forensics host")])
        .await
        .remove(0);

    // A protected principal: nothing done, a human told.
    let s = handle(
        &fw,
        &probe,
        &api_call("ev-p", &plain, iam_user("breakglass-ann")),
        "r",
    )
    .await
    .unwrap();
    let Outcome::Exempt { reason } = &s.cases[0].outcome else {
        panic!("{s:?}")
    };
    assert!(reason.contains("protected principal"), "{reason}");
    // The exempt tag: nothing done, a human told.
    let s = handle(&fw, &probe, &tag_change("ev-x", &exempt), "r")
        .await
        .unwrap();
    assert!(
        matches!(s.cases[0].outcome, Outcome::Exempt { .. }),
        "{s:?}"
    );
    // This function's own identity (the emulator's caller is user/moto): ignored, silently.
    assert!(fw.identity.ends_with(":user/moto"), "{}", fw.identity);
    let before = account.history_items().await.len();
    let s = handle(
        &fw,
        &probe,
        &api_call("ev-own", &plain, iam_user("moto")),
        "r",
    )
    .await
    .unwrap();
    assert_eq!(
        s.ignored.as_deref(),
        Some("caused by one of Tourniquet's own roles")
    );
    assert!(s.cases.is_empty());
    assert_eq!(
        account.history_items().await.len(),
        before,
        "own events write nothing"
    );

    assert!(!probed(&account, &plain).await);
    assert!(!probed(&account, &exempt).await);
    let notes = account.notifications().await;
    assert_eq!(notes.len(), 2);
    assert!(
        notes
            .iter()
            .all(|n| n.severity() == "CRITICAL" && n.attr("action") == "exempt")
    );
    // An ordinary user is acted on.
    let s = handle(
        &fw,
        &probe,
        &api_call("ev-ok", &plain, iam_user("dev")),
        "r",
    )
    .await
    .unwrap();
    assert!(
        matches!(s.cases[0].outcome, Outcome::Remediated { .. }),
        "{s:?}"
    );
}

#[tokio::test]
async fn malformed_events_are_rejected_without_writes_and_the_next_event_is_served() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let probe = Probe::new(&fw, Some(5));
    let instance = launch(&account.sdk, 1, &[]).await.remove(0);
    let cases = [
        ("malformed/empty-object.json", "unrecognised event"),
        ("malformed/null.json", "must be a JSON object, found null"),
        (
            "malformed/string.json",
            "must be a JSON object, found a string",
        ),
        (
            "malformed/wrong-detail-type.json",
            "unsupported event: detail-type \"EC2 Instance State-change Notification\"",
        ),
        ("malformed/missing-detail.json", "missing field `detail`"),
        (
            "malformed/wrong-field-types.json",
            "field `detail.userIdentity.type` must be a string, found a number",
        ),
        (
            "malformed/oversized-resource-list.json",
            "holds 1001 items, more than the 1000 allowed",
        ),
    ];
    for (file, expected) in cases {
        let err = handle(&fw, &probe, &sample(file), "r")
            .await
            .expect_err(file);
        assert!(matches!(err, HandleError::Input(_)), "{file}: {err}");
        assert!(err.to_string().contains(expected), "{file}: {err}");
    }
    assert!(
        account.history_items().await.is_empty(),
        "rejected events wrote history"
    );
    assert!(account.notifications().await.is_empty());
    let s = handle(&fw, &probe, &tag_change("ev-next", &instance), "r")
        .await
        .unwrap();
    assert!(matches!(s.cases[0].outcome, Outcome::Remediated { .. }));
}

#[tokio::test]
async fn a_notification_sns_refused_is_kept_and_sent_by_the_retry() {
    let account = Account::new().await;
    let fw = account.framework(FUNCTION, &[]).await;
    let probe = Probe::new(&fw, Some(5));
    let instance = launch(&account.sdk, 1, &[]).await.remove(0);
    let event = tag_change("ev-refused", &instance);

    // The topic's key is disabled, say: SNS refuses every publish.
    account.inject_fault("Publish", "KMSDisabled");
    let first = handle(&fw, &probe, &event, "req-1").await;
    assert!(
        matches!(&first, Err(HandleError::Retry(m)) if m.contains("kept for the retry")),
        "{first:?}"
    );
    assert!(
        probed(&account, &instance).await,
        "the action itself is done"
    );
    let locks = account.history_with("LOCK#probe").await;
    assert!(locks[0].contains_key("unsent"), "kept on the lock");

    // SNS is back; Lambda retries the event: the message goes out, nothing is done twice.
    account.set_faults(json!([]));
    let retry = handle(&fw, &probe, &event, "req-2").await.expect("handled");
    assert_eq!(
        tally(std::slice::from_ref(&retry)),
        BTreeMap::from([("duplicate", 1)])
    );
    let notes = account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(!account.history_with("LOCK#probe").await[0].contains_key("unsent"));
}
