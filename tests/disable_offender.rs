//! disable-offender against the emulator: IAM users with keys and console passwords, and a
//! role whose session tampers.
//!
//! Emulator gap: IAM is not enforced, so the deny policies are asserted as documents on the
//! user or role, not by a call that fails.

use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::StatusType;
use disable_offender::{DisableConfig, Disabler, FUNCTION};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tourniquet::pipeline::{HandleError, handle, handle_until};
use tourniquet::{Outcome, Summary};
use tourniquet_tests::{Account, policy_document, sample, tally};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

struct Setup {
    account: Account,
    fw: tourniquet::Framework,
    disabler: Disabler,
    iam: aws_sdk_iam::Client,
}

async fn user(iam: &aws_sdk_iam::Client, name: &str) {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("user");
    for _ in 0..2 {
        iam.create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("key");
    }
    iam.create_login_profile()
        .user_name(name)
        .password("correct-horse-battery-staple-1A!")
        .send()
        .await
        .expect("login profile");
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let account = Account::new().await;
    let iam = aws_sdk_iam::Client::new(&account.sdk);
    for name in ["alice", "bob", "carol", "breakglass"] {
        user(&iam, name).await;
    }
    iam.create_role()
        .role_name("deploy")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let fw = account.framework(FUNCTION, extra).await;
    let disabler = Disabler::new(
        &fw,
        DisableConfig::from_env(&account.env(extra)).expect("config"),
    );
    Setup {
        account,
        fw,
        disabler,
        iam,
    }
}

/// A sample offense, with its own event id, by IAM user `name`.
fn offense_by(file: &str, id: &str, name: &str) -> Value {
    let mut v = sample(&format!("disable-offender/{file}"));
    v["id"] = json!(id);
    if v["detail"]["userIdentity"]["type"] == "IAMUser" {
        v["detail"]["userIdentity"]["userName"] = json!(name);
        v["detail"]["userIdentity"]["arn"] =
            json!(format!("arn:aws:iam::123456789012:user/{name}"));
    }
    v
}

impl Setup {
    /// Delivers `event`, whose sample access key (`AKIAEXAMPLE…`) stands for the named user's
    /// first real key in the seeded account, as CloudTrail would record it.
    async fn deliver(&self, event: &Value) -> Summary {
        let event = tourniquet_tests::as_recorded(&self.account.sdk, event).await;
        handle(&self.fw, &self.disabler, &event, "request-1")
            .await
            .expect("handled")
    }
    async fn active_keys(&self, name: &str) -> usize {
        self.iam
            .list_access_keys()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .access_key_metadata()
            .iter()
            .filter(|k| k.status() == Some(&StatusType::Active))
            .count()
    }
    async fn user_policies(&self, name: &str) -> Vec<String> {
        self.iam
            .list_user_policies()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
            .to_vec()
    }
    async fn has_login_profile(&self, name: &str) -> bool {
        self.iam
            .get_login_profile()
            .user_name(name)
            .send()
            .await
            .is_ok()
    }
}

#[tokio::test]
async fn a_second_offense_disables_an_iam_user_reversibly() {
    let s = setup(&[("OFFENSE_LIMIT", "1")]).await;
    let first = s
        .deliver(&sample("disable-offender/stop-logging-by-user.json"))
        .await;
    assert!(
        matches!(first.outcome_of(ALICE), Some(Outcome::Noticed { .. })),
        "{first:?}"
    );
    assert_eq!(
        s.active_keys("alice").await,
        2,
        "the first offense is only counted"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "INFO");
    assert!(
        notes[0].message.contains("1 offense(s)"),
        "{}",
        notes[0].message
    );

    let second = s
        .deliver(&sample("disable-offender/update-trail-by-user.json"))
        .await;
    let Some(Outcome::Remediated { steps }) = second.outcome_of(ALICE) else {
        panic!("{second:?}")
    };
    assert_eq!(steps.len(), 3, "two keys and the deny: {steps:?}");
    assert_eq!(s.active_keys("alice").await, 0);
    assert_eq!(
        s.user_policies("alice").await,
        vec!["tourniquet-disable".to_owned()]
    );
    let policy = s
        .iam
        .get_user_policy()
        .user_name("alice")
        .policy_name("tourniquet-disable")
        .send()
        .await
        .unwrap();
    let document = policy_document(policy.policy_document());
    assert_eq!(document["Statement"][0]["Effect"], "Deny");
    assert_eq!(document["Statement"][0]["Action"], "*");
    assert!(
        document["Statement"][0].get("Condition").is_none(),
        "deny-all: {document}"
    );
    assert!(s.has_login_profile("alice").await, "nothing is deleted");
    let keys = s
        .iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata().len(),
        2,
        "keys kept, only inactive"
    );

    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    // Disabled: a person looks today, with the next steps and links to the user.
    assert_eq!(notes[0].severity(), "WARNING");
    assert_eq!(notes[0].attr("action"), "disable");
    assert!(
        notes[0].message.contains("NEXT STEPS"),
        "{}",
        notes[0].message
    );
    assert!(notes[0].message.contains("/iam/home#/users/details/alice"));
    assert_eq!(notes[0].attr("resource"), ALICE);
    assert!(
        notes[0].message.contains("2 offense(s)"),
        "{}",
        notes[0].message
    );
    assert!(notes[0].message.contains("StopLogging") && notes[0].message.contains("UpdateTrail"));
    assert!(
        notes[0].message.contains("update-access-key"),
        "says how to undo"
    );
    // Others are untouched.
    assert_eq!(s.active_keys("bob").await, 2);
}

#[tokio::test]
async fn limit_zero_disables_on_the_first_offense_and_failed_attempts_count() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let summary = s
        .deliver(&sample("disable-offender/delete-trail-denied-by-user.json"))
        .await;
    assert!(
        matches!(summary.outcome_of(ALICE), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    assert_eq!(s.active_keys("alice").await, 0);
    let offenses = s.account.history_with(&format!("OFFENSE#{ALICE}")).await;
    assert_eq!(offenses.len(), 1);
    assert!(
        tourniquet_tests::attr(&offenses[0], "event").contains("attempt, failed: AccessDenied")
    );
}

#[tokio::test]
async fn in_this_session_mode_an_assumed_role_session_is_denied_alone() {
    let s = setup(&[
        ("OFFENSE_LIMIT", "0"),
        ("ROLE_DISABLE_MODE", "this-session"),
    ])
    .await;
    assumed_by(&s, "carol");
    let summary = s
        .deliver(&sample(
            "disable-offender/stop-logging-by-role-session.json",
        ))
        .await;
    let role = "arn:aws:iam::123456789012:role/deploy";
    assert!(
        matches!(summary.outcome_of(role), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    let names = s
        .iam
        .list_role_policies()
        .role_name("deploy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        names.policy_names(),
        ["tourniquet-disable-AROAEXAMPLEDEPLOY-build-7731"]
    );
    let policy = s
        .iam
        .get_role_policy()
        .role_name("deploy")
        .policy_name("tourniquet-disable-AROAEXAMPLEDEPLOY-build-7731")
        .send()
        .await
        .unwrap();
    let document = policy_document(policy.policy_document());
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:userid"], "AROAEXAMPLEDEPLOY:build-7731",
        "scoped to the session: {document}"
    );
    let attached = s
        .iam
        .list_attached_role_policies()
        .role_name("deploy")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty());
}

#[tokio::test]
async fn root_and_protected_principals_are_never_disabled() {
    let s = setup(&[
        ("OFFENSE_LIMIT", "0"),
        ("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/breakglass"),
    ])
    .await;
    let root = s
        .deliver(&sample("disable-offender/stop-logging-by-root.json"))
        .await;
    assert!(
        matches!(
            root.outcome_of("arn:aws:iam::123456789012:root"),
            Some(Outcome::Exempt { .. })
        ),
        "{root:?}"
    );
    let protected = s
        .deliver(&offense_by(
            "stop-logging-by-user.json",
            "ev-bg",
            "breakglass",
        ))
        .await;
    assert!(
        matches!(protected.outcome_of("arn:aws:iam::123456789012:user/breakglass"), Some(Outcome::Exempt { reason }) if reason.contains("protected principal")),
        "{protected:?}"
    );
    assert_eq!(s.active_keys("breakglass").await, 2);
    assert!(s.user_policies("breakglass").await.is_empty());
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|n| n.severity() == "CRITICAL"));
    assert!(
        notes
            .iter()
            .any(|n| n.message.contains("root user cannot be disabled"))
    );
}

#[tokio::test]
async fn the_disable_safeguard_holds() {
    let s = setup(&[("OFFENSE_LIMIT", "0"), ("DISABLE_LIMIT", "2")]).await;
    let events: Vec<Value> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| offense_by("stop-logging-by-user.json", &format!("ev-{u}"), u))
        .collect();
    let summaries = futures_util::future::join_all(events.iter().map(|e| s.deliver(e))).await;
    assert_eq!(
        tally(&summaries),
        BTreeMap::from([("held", 1), ("remediated", 2)])
    );
    let mut disabled = 0;
    for u in ["alice", "bob", "carol"] {
        if s.active_keys(u).await == 0 {
            disabled += 1;
        } else {
            assert_eq!(s.active_keys(u).await, 2, "a held user is untouched");
        }
    }
    assert_eq!(disabled, 2);
    let notes = s.account.notifications().await;
    assert_eq!(
        notes.iter().filter(|n| n.attr("action") == "held").count(),
        1
    );
}

#[tokio::test]
async fn old_offenses_do_not_count_and_redelivery_counts_once() {
    let s = setup(&[("OFFENSE_LIMIT", "1"), ("OFFENSE_WINDOW_DAYS", "30")]).await;
    let old = SystemTime::now() - Duration::from_secs(31 * 86_400);
    s.fw.history
        .record_offense(
            ALICE,
            "ancient",
            old,
            "StopLogging",
            true,
            Duration::from_secs(30 * 86_400),
        )
        .await
        .unwrap();
    let event = sample("disable-offender/stop-logging-by-user.json");
    for _ in 0..3 {
        s.deliver(&event).await;
    }
    assert_eq!(s.active_keys("alice").await, 2, "one offense in the window");
    assert_eq!(
        s.account
            .history_with(&format!("OFFENSE#{ALICE}"))
            .await
            .len(),
        2,
        "old + one"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "redeliveries are not offenses");
    assert!(notes[0].message.contains("1 offense(s)"));
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let s = setup(&[("OFFENSE_LIMIT", "0"), ("DRY_RUN", "true")]).await;
    let summary = s
        .deliver(&sample("disable-offender/stop-logging-by-user.json"))
        .await;
    let Some(Outcome::DryRun { plan }) = summary.outcome_of(ALICE) else {
        panic!("{summary:?}")
    };
    assert_eq!(plan.len(), 3, "{plan:?}");
    assert_eq!(s.active_keys("alice").await, 2);
    assert!(s.user_policies("alice").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_disable_is_resumed() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let keys: Vec<String> = s
        .iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id().map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2);
    // The deny-all policy call hangs past the invocation's deadline.
    s.account.set_faults(json!([{
        "operation": "PutUserPolicy", "times": 1, "stall": 8,
        "code": "Throttling", "status": 400
    }]));
    let event = tourniquet_tests::as_recorded(
        &s.account.sdk,
        &sample("disable-offender/stop-logging-by-user.json"),
    )
    .await;
    let deadline = SystemTime::now() + Duration::from_secs(4);
    let err = handle_until(&s.fw, &s.disabler, &event, "request-1", Some(deadline))
        .await
        .expect_err("out of time");
    assert!(matches!(err, HandleError::Unfinished(_)), "{err}");
    assert_eq!(
        s.active_keys("alice").await,
        0,
        "the keys went before time ran out"
    );
    assert!(
        s.user_policies("alice").await.is_empty(),
        "the deny did not"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");

    s.account.set_faults(json!([]));
    let summary = s.deliver(&event).await;
    let case = &summary.cases[0];
    assert!(case.resumed, "{summary:?}");
    assert!(
        matches!(case.outcome, Outcome::Remediated { .. }),
        "{summary:?}"
    );
    assert_eq!(s.user_policies("alice").await.len(), 1, "the deny is on");
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].subject.contains("resumed"), "{}", notes[0].subject);
    for key in &keys {
        assert!(
            notes[0].message.contains(key),
            "the undo names key {key}, deactivated by the invocation that died"
        );
    }
    // One offense, however many deliveries.
    assert_eq!(s.account.history_with("OFFENSE#").await.len(), 1);
}

#[tokio::test]
async fn a_repair_by_another_tourniquet_role_is_never_an_offense() {
    let roles = "arn:aws:iam::123456789012:role/tourniquet-DisableOffenderFunctionRole-0F9E8D7C6B5A,\
                 arn:aws:iam::123456789012:role/tourniquet-HealCloudTrailFunctionRole-1A2B3C4D5E6F";
    let extra = [("OFFENSE_LIMIT", "0"), ("TOURNIQUET_ROLE_ARNS", roles)];
    let account = Account::new().await;
    // With the roles configured, the cold start makes no STS call: a failing STS is harmless.
    account.inject_fault("GetCallerIdentity", "AccessDenied");
    let fw = account.framework(FUNCTION, &extra).await;
    let disabler = Disabler::new(
        &fw,
        DisableConfig::from_env(&account.env(&extra)).expect("config"),
    );
    let event = sample("disable-offender/update-trail-by-tourniquet.json");
    let summary = handle(&fw, &disabler, &event, "request-1")
        .await
        .expect("handled");
    assert_eq!(
        summary.ignored.as_deref(),
        Some("caused by one of Tourniquet's own roles"),
        "{summary:?}"
    );
    assert!(summary.cases.is_empty());
    assert!(
        account.history_with("OFFENSE#").await.is_empty(),
        "not counted"
    );
    assert!(
        account.history_with("LOCK#").await.is_empty(),
        "no incident"
    );
    assert!(account.notifications().await.is_empty(), "nobody paged");
}

/// CloudTrail's record of `name` assuming role `deploy` and receiving the sample session's
/// access key, answered by the emulator's wrapper (the emulator has no `LookupEvents`).
fn assumed_by(s: &Setup, name: &str) {
    let record = json!({
        "eventName": "AssumeRole",
        "userIdentity": {"type": "IAMUser", "userName": name, "accountId": "123456789012",
                         "arn": format!("arn:aws:iam::123456789012:user/{name}")},
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLEDEPLOY"}},
    });
    s.account.set_faults(json!([{
        "operation": "LookupEvents",
        "answer": {"Events": [{"EventId": "e-1", "EventName": "AssumeRole",
                               "CloudTrailEvent": record.to_string()}]},
    }]));
}

/// The sample role-session offense, as session `session` of role `deploy` at `time`.
fn role_offense(id: &str, session: &str, time: &str) -> Value {
    let mut v = sample("disable-offender/stop-logging-by-role-session.json");
    v["id"] = json!(id);
    v["time"] = json!(time);
    v["detail"]["eventTime"] = json!(time);
    v["detail"]["userIdentity"]["principalId"] = json!(format!("AROAEXAMPLEDEPLOY:{session}"));
    v["detail"]["userIdentity"]["arn"] = json!(format!(
        "arn:aws:sts::123456789012:assumed-role/deploy/{session}"
    ));
    v
}

#[tokio::test]
async fn a_role_offender_loses_every_older_session_and_decoys_take_one_slot() {
    let s = setup(&[("OFFENSE_LIMIT", "0"), ("DISABLE_LIMIT", "1")]).await;
    assumed_by(&s, "carol");
    let role = "arn:aws:iam::123456789012:role/deploy";
    let before = tourniquet::time::rfc3339(SystemTime::now());
    let first = s
        .deliver(&role_offense("ev-1", "build-7731", "2026-11-23T03:20:41Z"))
        .await;
    assert!(
        matches!(first.outcome_of(role), Some(Outcome::Remediated { .. })),
        "{first:?}"
    );
    let policies = s
        .iam
        .list_role_policies()
        .role_name("deploy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        policies.policy_names(),
        ["tourniquet-revoke-older-sessions"]
    );
    let policy = s
        .iam
        .get_role_policy()
        .role_name("deploy")
        .policy_name("tourniquet-revoke-older-sessions")
        .send()
        .await
        .unwrap();
    let document = policy_document(policy.policy_document());
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    // Every session issued before the cutoff, whatever its name (another session of the
    // role that existed before, `alice@example.com` say, is denied too); IAM is not
    // enforced by the emulator, so the condition is asserted.
    let cutoff = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .expect("a cutoff");
    assert!(
        cutoff >= before.as_str(),
        "{cutoff} is now, not earlier than {before}"
    );
    assert!(
        statement["Condition"].get("StringEquals").is_none(),
        "not per session"
    );

    // An earlier session, another name: already covered.
    let older = s
        .deliver(&role_offense(
            "ev-2",
            "alice@example.com",
            "2026-11-23T03:21:00Z",
        ))
        .await;
    assert!(
        matches!(
            older.outcome_of(role),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{older:?}"
    );
    // A decoy session issued after the cutoff: revoked again, in the same slot.
    let later = tourniquet::time::rfc3339(SystemTime::now() + Duration::from_secs(5));
    let decoy = s.deliver(&role_offense("ev-3", "decoy-1", &later)).await;
    assert!(
        matches!(decoy.outcome_of(role), Some(Outcome::Remediated { .. })),
        "one principal, one slot: not held at DISABLE_LIMIT=1: {decoy:?}"
    );
    assert_eq!(s.account.history_with("SAFEGUARD#disable").await.len(), 1);
}

#[tokio::test]
async fn an_identity_center_offender_is_paged_and_its_role_untouched() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let role_name = "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b";
    s.iam
        .create_role()
        .role_name(role_name)
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:saml-provider/AWSSSO"},"Action":"sts:AssumeRoleWithSAML"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let summary = s
        .deliver(&sample(
            "disable-offender/stop-logging-by-identity-center.json",
        ))
        .await;
    let role = format!("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/{role_name}");
    assert!(
        matches!(summary.outcome_of(&role), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    let policies = s
        .iam
        .list_role_policies()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    assert!(policies.policy_names().is_empty(), "no IAM change");
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0].subject.contains("jane@example.com"),
        "{}",
        notes[0].subject
    );
    assert!(notes[0].message.contains("delete-account-assignment"));
    assert!(notes[0].message.contains("AdministratorAccess"));
}

#[tokio::test]
async fn strengthening_a_trail_is_no_offense() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    // Limit 0: the first offense disables. Turning validation and multi-region on is none.
    let summary = s
        .deliver(&sample(
            "disable-offender/update-trail-strengthening-by-user.json",
        ))
        .await;
    assert!(summary.cases.is_empty(), "{summary:?}");
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|r| r.contains("only adds coverage")),
        "{summary:?}"
    );
    assert_eq!(s.active_keys("alice").await, 2, "alice is untouched");
    assert!(s.account.history_with("OFFENSE#").await.is_empty());
    assert!(s.account.notifications().await.is_empty());

    // The weakening UpdateTrail is one, and says how it weakens.
    let weakening = s
        .deliver(&sample("disable-offender/update-trail-by-user.json"))
        .await;
    assert!(
        matches!(
            weakening.outcome_of(ALICE),
            Some(Outcome::Remediated { .. })
        ),
        "{weakening:?}"
    );
    let notes = s.account.notifications().await;
    assert!(
        notes[0]
            .message
            .contains("UpdateTrail: multi-region turned off"),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn the_user_who_assumed_the_role_is_disabled_not_the_one_the_session_names() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let role = "arn:aws:iam::123456789012:role/deploy";
    // The session's name and source identity both say alice; CloudTrail says bob.
    let mut event = role_offense("ev-up", "alice", "2026-11-23T03:20:41Z");
    event["detail"]["userIdentity"]["sourceIdentity"] = json!("alice");
    assumed_by(&s, "bob");
    let summary = s.deliver(&event).await;
    assert!(
        matches!(summary.outcome_of(role), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    assert_eq!(
        s.active_keys("bob").await,
        0,
        "bob, who assumed the role, is disabled"
    );
    assert_eq!(s.user_policies("bob").await, ["tourniquet-disable"]);
    assert_eq!(s.active_keys("alice").await, 2, "alice is untouched");
    assert!(s.user_policies("alice").await.is_empty());
    assert_eq!(
        s.account.history_with("SAFEGUARD#disable").await.len(),
        1,
        "the role and its assumer take one slot"
    );
    let notes = s.account.notifications().await;
    assert!(
        notes[0]
            .message
            .contains("arn:aws:iam::123456789012:user/bob")
    );
    assert!(
        notes[0]
            .message
            .contains("aws iam update-access-key --user-name bob")
    );
}

#[tokio::test]
async fn a_role_whose_assumer_cannot_be_found_wakes_a_human() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let role = "arn:aws:iam::123456789012:role/deploy";
    s.account
        .set_faults(json!([{"operation": "LookupEvents", "answer": {"Events": []}}]));
    let summary = s
        .deliver(&role_offense("ev-none", "build-1", "2026-11-23T03:20:41Z"))
        .await;
    let Some(Outcome::Partial { steps }) = summary.outcome_of(role) else {
        panic!("{summary:?}")
    };
    assert!(
        steps.iter().any(|st| st.name == "upstream"
            && st.critical
            && st.detail.contains("ASIAEXAMPLEDEPLOY")),
        "{steps:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0].message.contains("was NOT disabled"),
        "{}",
        notes[0].message
    );
    for name in ["alice", "bob", "carol"] {
        assert_eq!(s.active_keys(name).await, 2, "{name} untouched");
    }
}

/// The attack of a forged offense: CloudTrail-shaped events naming an innocent user, put on
/// the bus under a source of the attacker's. They disable nobody and count for nothing.
#[tokio::test]
async fn forged_offenses_disable_nobody_and_are_never_counted() {
    let s = setup(&[("OFFENSE_LIMIT", "1")]).await;
    let genuine = sample("disable-offender/stop-logging-by-user.json");
    for id in ["forged-1", "forged-2", "forged-3"] {
        let summary = s.deliver(&tourniquet_tests::forged(&genuine, id)).await;
        assert!(
            summary
                .ignored
                .as_deref()
                .is_some_and(|r| r.starts_with("forged")),
            "{summary:?}"
        );
    }
    assert_eq!(s.active_keys("alice").await, 2, "alice's keys stay active");
    assert!(
        s.user_policies("alice").await.is_empty(),
        "no deny attached"
    );
    assert!(
        s.account.history_with("OFFENSE#").await.is_empty(),
        "no offense recorded"
    );
    tourniquet_tests::assert_forgeries_reported(&s.account.notifications().await, 3);

    // An event from the future is refused the same way, even under the right source.
    let mut future = genuine.clone();
    future["id"] = json!("from-the-future");
    future["time"] = json!("2099-01-01T00:00:00Z");
    let summary = s.deliver(&future).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|r| r.contains("future")),
        "{summary:?}"
    );
    assert!(s.account.history_with("OFFENSE#").await.is_empty());

    // The genuine event is alice's first offense: none of the forged ones counted.
    let first = s.deliver(&genuine).await;
    assert!(
        matches!(first.outcome_of(ALICE), Some(Outcome::Noticed { .. })),
        "{first:?}"
    );
    assert_eq!(s.active_keys("alice").await, 2);
}

/// The sample role-session offense, made with the credentials EC2 delivered to `instance`
/// through the instance profile of `role` (CloudTrail's `ec2RoleDelivery`).
fn instance_offense(id: &str, role: &str, instance: &str) -> Value {
    let mut v = sample("disable-offender/stop-logging-by-instance-profile.json");
    v["id"] = json!(id);
    let identity = &mut v["detail"]["userIdentity"];
    identity["principalId"] = json!(format!("AROAEXAMPLEBASTION:{instance}"));
    identity["arn"] = json!(format!(
        "arn:aws:sts::123456789012:assumed-role/{role}/{instance}"
    ));
    identity["sessionContext"]["sessionIssuer"]["arn"] =
        json!(format!("arn:aws:iam::123456789012:role/{role}"));
    identity["sessionContext"]["sessionIssuer"]["userName"] = json!(role);
    identity["sessionContext"]["ec2RoleDelivery"] = json!("2.0");
    v
}

/// An offense made with one instance's role credentials: that instance's credentials are
/// denied and it is tainted, then isolated by isolate-instance; every other session of the
/// role, the rest of the fleet with it, keeps working.
#[tokio::test]
async fn an_instance_profile_offense_is_answered_on_that_instance_only() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let fleet = tourniquet_tests::fleet::seed(&s.account.sdk).await;
    let (culprit, sibling) = (fleet.bastion.clone(), {
        // A second instance with the same role.
        aws_sdk_ec2::Client::new(&s.account.sdk)
            .run_instances()
            .image_id(tourniquet_tests::ec2::AMI)
            .min_count(1)
            .max_count(1)
            .iam_instance_profile(
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .arn(&fleet.bastion_profile_arn)
                    .build(),
            )
            .send()
            .await
            .expect("sibling")
            .instances()[0]
            .instance_id()
            .expect("id")
            .to_owned()
    });
    let key = format!("arn:aws:sts::123456789012:assumed-role/bastion-role/{culprit}");
    let summary = s
        .deliver(&instance_offense("ev-1", "bastion-role", &culprit))
        .await;
    assert!(
        matches!(summary.outcome_of(&key), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    let policies = s
        .iam
        .list_role_policies()
        .role_name("bastion-role")
        .send()
        .await
        .unwrap();
    assert_eq!(
        policies.policy_names(),
        [tourniquet::credentials::POLICY_NAME],
        "no role-wide revoke, no session deny: only the instance's credentials"
    );
    let policy = s
        .iam
        .get_role_policy()
        .role_name("bastion-role")
        .policy_name(tourniquet::credentials::POLICY_NAME)
        .send()
        .await
        .unwrap();
    let document = policy_document(policy.policy_document());
    assert_eq!(
        document["Statement"][0]["Condition"]["StringEquals"]["ec2:SourceInstanceARN"],
        json!([format!(
            "arn:aws:ec2:us-east-1:123456789012:instance/{culprit}"
        )]),
        "the sibling's sessions keep working"
    );
    let tags = tourniquet_tests::ec2::tags_of(&s.account.sdk, &culprit).await;
    assert!(
        tags.get("Tainted")
            .is_some_and(|v| v.starts_with("disable-offender")),
        "{tags:?}"
    );
    let sibling_tags = tourniquet_tests::ec2::tags_of(&s.account.sdk, &sibling).await;
    assert!(!sibling_tags.contains_key("Tainted"), "{sibling_tags:?}");

    // The taint reaches isolate-instance as a tag change (EventBridge, `aws.tag`): it isolates
    // the instance under its own safeguard and incident.
    let isolate_fw = s.account.framework(isolate_instance::FUNCTION, &[]).await;
    let isolator = isolate_instance::Isolator::new(
        &isolate_fw,
        isolate_instance::IsolateConfig::from_env(&s.account.env(&[])).expect("config"),
    );
    let mut change = sample("isolate-instance/tag-change.json");
    change["resources"] = json!([format!(
        "arn:aws:ec2:us-east-1:123456789012:instance/{culprit}"
    )]);
    change["detail"]["tags"] = json!(tags);
    let isolated = handle(&isolate_fw, &isolator, &change, "request-2")
        .await
        .expect("handled");
    assert!(
        matches!(
            isolated.outcome_of(&culprit),
            Some(Outcome::Remediated { .. } | Outcome::Partial { .. })
        ),
        "{isolated:?}"
    );
    let tags = tourniquet_tests::ec2::tags_of(&s.account.sdk, &culprit).await;
    assert_eq!(
        tags.get(isolate_instance::STATUS_TAG).map(String::as_str),
        Some("quarantined")
    );
    let sibling_tags = tourniquet_tests::ec2::tags_of(&s.account.sdk, &sibling).await;
    assert!(!sibling_tags.contains_key(isolate_instance::STATUS_TAG));
}

/// A session whose every call was denied has weakened nothing: it is denied alone
/// (`aws:userid`), never every session of its role.
#[tokio::test]
async fn denied_attempts_alone_deny_only_the_session() {
    let s = setup(&[("OFFENSE_LIMIT", "1")]).await;
    assumed_by(&s, "carol");
    let role = "arn:aws:iam::123456789012:role/deploy";
    for id in ["ev-1", "ev-2"] {
        let mut v = role_offense(id, "build-7731", "2026-11-23T03:20:41Z");
        v["detail"]["errorCode"] = json!("AccessDenied");
        let summary = s.deliver(&v).await;
        if id == "ev-2" {
            assert!(
                matches!(summary.outcome_of(role), Some(Outcome::Remediated { .. })),
                "{summary:?}"
            );
        }
    }
    let policies = s
        .iam
        .list_role_policies()
        .role_name("deploy")
        .send()
        .await
        .unwrap();
    let session_policy =
        disable_offender::policy::session_policy_name("AROAEXAMPLEDEPLOY:build-7731");
    assert_eq!(policies.policy_names(), [session_policy.as_str()]);
    let notes = s.account.notifications().await;
    assert!(
        notes.iter().any(|n| n
            .message
            .contains("every offense in the window was a denied attempt")),
        "the notification says why the deny is narrow"
    );

    // One call that went through: now every older session of the role is denied.
    let v = role_offense("ev-3", "build-7731", "2026-11-23T03:20:41Z");
    let summary = s.deliver(&v).await;
    assert!(
        matches!(summary.outcome_of(role), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    let policies = s
        .iam
        .list_role_policies()
        .role_name("deploy")
        .send()
        .await
        .unwrap();
    assert!(
        policies
            .policy_names()
            .iter()
            .any(|p| p == "tourniquet-revoke-older-sessions"),
        "{policies:?}"
    );
}

/// A record naming a user and a long-term key IAM does not list among the user's is not what
/// IAM knows: nobody is disabled, a person is told.
#[tokio::test]
async fn a_record_whose_key_is_not_the_users_disables_nobody() {
    let s = setup(&[("OFFENSE_LIMIT", "0")]).await;
    let mut event = sample("disable-offender/stop-logging-by-user.json");
    event["detail"]["userIdentity"]["accessKeyId"] = json!("AKIAIOSFODNN7NOTHERS");
    let summary = handle(&s.fw, &s.disabler, &event, "request-1")
        .await
        .expect("handled");
    assert!(
        matches!(summary.outcome_of(ALICE), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    assert_eq!(s.active_keys("alice").await, 2);
    assert!(s.user_policies("alice").await.is_empty());
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(
        notes[0].subject.contains("not confirmed"),
        "{}",
        notes[0].subject
    );
}
