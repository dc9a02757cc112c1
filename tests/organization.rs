//! One deployment, many accounts: the central functions act in a member account through its
//! member role, and only there.
//!
//! The emulator keeps accounts apart by credentials: a role assumed in an account acts in
//! that account, as in AWS. Emulator gaps, noted where they show: it does not check a role's
//! trust policy on `AssumeRole` (a role that cannot be assumed is an injected
//! `AccessDenied`), and it does not enforce IAM.

use heal_cloudtrail::Healer;
use isolate_instance::{IsolateConfig, Isolator, STATUS_TAG};
use serde_json::{Value, json};
use tourniquet::pipeline::handle;
use tourniquet::{Outcome, Summary};
use tourniquet_tests::ec2::{launch, tags_of};
use tourniquet_tests::fleet;
use tourniquet_tests::{ACCOUNT, Account, REGION, sample};

/// A member account, listed in `MEMBER_ACCOUNTS`.
const MEMBER: &str = "222222222222";
/// An account of the organization that is not listed.
const OUTSIDER: &str = "333333333333";
const ROLE: &str = "tourniquet-member";

struct Org {
    account: Account,
    member: aws_config::SdkConfig,
}

impl Org {
    /// The central account, and the member account with its member role, as the member
    /// stack makes it.
    async fn new() -> Self {
        let account = Account::new().await;
        let member = account.other(MEMBER).await;
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "tq-external"}}
            }]
        });
        aws_sdk_iam::Client::new(&member)
            .create_role()
            .role_name(ROLE)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("create the member role");
        Self { account, member }
    }

    /// The central deployment's environment: the member role, its external id and the one
    /// listed account, plus `extra`.
    fn env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("MEMBER_ROLE_NAME", ROLE),
            ("MEMBER_EXTERNAL_ID", "tq-external"),
            ("MEMBER_ACCOUNTS", MEMBER),
        ];
        env.extend_from_slice(extra);
        env
    }

    async fn isolator(&self, extra: &[(&str, &str)]) -> (tourniquet::Framework, Isolator) {
        let env = Self::env(extra);
        let fw = self
            .account
            .framework(isolate_instance::FUNCTION, &env)
            .await;
        let config = IsolateConfig::from_env(&self.account.env(&env)).expect("config");
        let isolator = Isolator::new(&fw, config);
        (fw, isolator)
    }
}

/// An event as `account` emits it: every mention of the central account becomes `account`.
fn in_account(event: &Value, account: &str) -> Value {
    serde_json::from_str(&event.to_string().replace(ACCOUNT, account)).expect("JSON")
}

/// The sample `CreateTags` event naming `instance`, with its own event id, in `account`.
fn tainted(id: &str, instance: &str, account: &str) -> Value {
    let mut v = sample("isolate-instance/create-tags.json");
    v["id"] = json!(id);
    v["detail"]["requestParameters"]["resourcesSet"]["items"] = json!([{"resourceId": instance}]);
    in_account(&v, account)
}

fn instance_key(account: &str, id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{account}:instance/{id}")
}

async fn deliver<R: tourniquet::Remediation>(
    fw: &tourniquet::Framework,
    r: &R,
    event: &Value,
) -> Summary {
    handle(fw, r, event, "request-1").await.expect("handled")
}

/// Whether `instance` is visible from the account of `sdk`.
async fn visible(sdk: &aws_config::SdkConfig, instance: &str) -> bool {
    aws_sdk_ec2::Client::new(sdk)
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .is_ok_and(|out| !out.reservations().is_empty())
}

#[tokio::test]
async fn a_tainted_instance_in_a_member_account_is_isolated_there_through_its_role() {
    let org = Org::new().await;
    let (fw, isolator) = org.isolator(&[]).await;
    // The sample: a taint in the member account, in another region than the central one.
    let sample = sample("organization/create-tags-in-member.json");
    let region = sample["region"].as_str().expect("a region").to_owned();
    assert_ne!(region, REGION);
    let member = org
        .member
        .clone()
        .into_builder()
        .region(aws_config::Region::new(region.clone()))
        .build();
    let event = |id: &str, instance: &str| {
        let mut v = sample.clone();
        v["id"] = json!(id);
        v["detail"]["requestParameters"]["resourcesSet"]["items"] =
            json!([{"resourceId": instance}]);
        v
    };
    let key_of = |instance: &str| format!("arn:aws:ec2:{region}:{MEMBER}:instance/{instance}");
    let victim = launch(&member, 1, &[("Tainted", "crypto miner")])
        .await
        .remove(0);
    assert!(
        !visible(&org.account.sdk, &victim).await,
        "the emulator keeps the member's instance out of the central account"
    );

    let second = launch(&member, 1, &[("Tainted", "crypto miner")])
        .await
        .remove(0);
    let assumed = || async {
        org.account
            .requests()
            .get("AssumeRole")
            .copied()
            .unwrap_or(0)
    };
    let before = assumed().await;
    let summary = deliver(&fw, &isolator, &event("ev-member", &victim)).await;
    let again = deliver(&fw, &isolator, &event("ev-member-2", &second)).await;
    assert!(
        matches!(
            again.outcome_of(&key_of(&second)),
            Some(Outcome::Remediated { .. })
        ),
        "{again:?}"
    );
    assert_eq!(
        assumed().await - before,
        1,
        "the member role is assumed once for the account, its credentials kept"
    );
    let key = key_of(&victim);
    assert!(
        matches!(summary.outcome_of(&key), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    assert_eq!(
        tags_of(&member, &victim)
            .await
            .get(STATUS_TAG)
            .map(String::as_str),
        Some("quarantined")
    );
    let member_groups = fleet::groups_named(&member, "tourniquet-quarantine").await;
    assert_eq!(member_groups.len(), 1, "{member_groups:?}");
    let ifaces = fleet::interfaces(&member, &victim).await;
    for eni in &ifaces {
        assert_eq!(
            fleet::interface_groups(&member, eni).await,
            vec![member_groups[0].0.clone()],
            "{eni} is in the member's quarantine group only"
        );
    }

    // Nothing changed in the central account.
    assert!(
        fleet::groups_named(&org.account.sdk, "tourniquet-*")
            .await
            .is_empty(),
        "no group made in the central account"
    );
    let central = aws_sdk_ec2::Client::new(&org.account.sdk);
    let snapshots = central
        .describe_snapshots()
        .owner_ids("self")
        .send()
        .await
        .expect("snapshots");
    assert!(
        snapshots.snapshots().is_empty(),
        "no snapshot in the central account"
    );

    // History, in the one central table, names the account and region.
    let incidents = org.account.history_with(&format!("INCIDENT#{key}")).await;
    assert!(
        !incidents.is_empty(),
        "the incident is recorded under {key}"
    );
    let groups = org.account.history_with("BASELINE#quarantine-groups").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let vpc_key = tourniquet_tests::attr(&groups[0], "sk");
    assert!(
        vpc_key.starts_with(&format!("arn:aws:ec2:{region}:{MEMBER}:vpc/vpc-")),
        "the member's groups are recorded under its VPC's ARN: {vpc_key}"
    );

    // The page says where, and the undo says in which account to run it.
    let notes = org.account.notifications().await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].attr("account"), MEMBER);
    assert_eq!(notes[0].attr("region"), region);
    assert!(
        notes[0]
            .message
            .contains(&format!("In account {MEMBER}, {region}.")),
        "{}",
        notes[0].message
    );
    assert!(
        notes[0].message.contains(&format!(
            "To release (undo), once the investigation allows, in account {MEMBER}, {region} (--region {region})"
        )),
        "{}",
        notes[0].message
    );
    assert_eq!(notes[0].facts()["account"], MEMBER);
}

#[tokio::test]
async fn a_stopped_trail_in_a_member_account_is_healed_there() {
    let org = Org::new().await;
    let fw = org
        .account
        .framework(heal_cloudtrail::FUNCTION, &Org::env(&[]))
        .await;
    let healer = Healer::new(&fw);
    let bucket = "member-audit-logs";
    aws_sdk_s3::Client::new(&org.member)
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("member bucket");
    let ct = aws_sdk_cloudtrail::Client::new(&org.member);
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name(bucket)
        .is_multi_region_trail(true)
        .send()
        .await
        .expect("member trail");
    ct.start_logging()
        .name("org-audit")
        .send()
        .await
        .expect("start");
    let arn = format!("arn:aws:cloudtrail:{REGION}:{MEMBER}:trail/org-audit");

    // The daily audit, central, covers the listed member account: its baseline is kept.
    let mut audit = sample("heal-cloudtrail/scheduled-audit.json");
    audit["id"] = json!("audit-org");
    let audited = deliver(&fw, &healer, &audit).await;
    assert!(audited.outcome_of(&arn).is_some(), "{audited:?}");
    let baselines = org.account.history_with("BASELINE#trail").await;
    assert!(
        baselines
            .iter()
            .any(|b| tourniquet_tests::attr(b, "sk") == arn),
        "the member trail's baseline is kept: {baselines:?}"
    );

    ct.stop_logging()
        .name("org-audit")
        .send()
        .await
        .expect("stop");
    let stop = in_account(&sample("heal-cloudtrail/stop-logging.json"), MEMBER);
    let summary = deliver(&fw, &healer, &stop).await;
    match summary.outcome_of(&arn) {
        Some(Outcome::Remediated { steps }) => {
            assert!(
                steps.iter().any(|s| s.ok && s.name == "start-logging"),
                "{steps:?}"
            )
        }
        other => panic!("not healed: {other:?} in {summary:?}"),
    }
    let status = ct
        .get_trail_status()
        .name("org-audit")
        .send()
        .await
        .expect("status");
    assert_eq!(
        status.is_logging(),
        Some(true),
        "logging again in the member"
    );
    let central = aws_sdk_cloudtrail::Client::new(&org.account.sdk)
        .describe_trails()
        .send()
        .await
        .expect("central trails");
    assert!(
        central.trail_list().is_empty(),
        "no trail made in the central account"
    );
    let notes = org.account.notifications().await;
    assert!(
        notes
            .iter()
            .any(|n| n.attr("account") == MEMBER && n.attr("action") == "heal"),
        "{notes:?}"
    );

    // A call in the member naming the central account's trail by ARN could not change it:
    // the account it names is the caller's choice, and nothing is read there.
    let mut foreign = stop.clone();
    foreign["id"] = json!("stop-foreign");
    foreign["detail"]["requestParameters"]["name"] = json!(format!(
        "arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-audit"
    ));
    let summary = deliver(&fw, &healer, &foreign).await;
    assert!(
        summary.cases.is_empty()
            && summary
                .ignored
                .as_deref()
                .is_some_and(|w| w.contains("cannot change it")),
        "{summary:?}"
    );
}

/// Decoy taints that fill a sandbox account's window do not hold a real case in another
/// account: `ISOLATION_LIMIT` counts per account.
#[tokio::test]
async fn decoys_filling_one_accounts_window_do_not_hold_another_account() {
    let org = Org::new().await;
    let (fw, isolator) = org.isolator(&[("ISOLATION_LIMIT", "1")]).await;
    let decoys = launch(&org.member, 2, &[("Tainted", "x")]).await;
    let production = launch(&org.account.sdk, 1, &[("Tainted", "x")])
        .await
        .remove(0);
    let first = deliver(&fw, &isolator, &tainted("ev-d1", &decoys[0], MEMBER)).await;
    assert!(
        matches!(
            first.outcome_of(&instance_key(MEMBER, &decoys[0])),
            Some(Outcome::Remediated { .. })
        ),
        "{first:?}"
    );
    let second = deliver(&fw, &isolator, &tainted("ev-d2", &decoys[1], MEMBER)).await;
    match second.outcome_of(&instance_key(MEMBER, &decoys[1])) {
        Some(Outcome::Held { reason }) => {
            assert!(reason.contains(&format!("in account {MEMBER}")), "{reason}")
        }
        other => panic!("the second decoy was not held: {other:?}"),
    }
    let real = deliver(&fw, &isolator, &tainted("ev-prod", &production, ACCOUNT)).await;
    assert!(
        matches!(
            real.outcome_of(&production),
            Some(Outcome::Remediated { .. })
        ),
        "the production instance is isolated: {real:?}"
    );
    assert_eq!(
        tags_of(&org.account.sdk, &production)
            .await
            .get(STATUS_TAG)
            .map(String::as_str),
        Some("quarantined")
    );
}

/// The organization's ceiling (`ISOLATION_LIMIT_TOTAL`) spans every account.
#[tokio::test]
async fn the_ceiling_counts_isolations_in_every_account() {
    let org = Org::new().await;
    let (fw, isolator) = org
        .isolator(&[("ISOLATION_LIMIT", "1"), ("ISOLATION_LIMIT_TOTAL", "1")])
        .await;
    let home = launch(&org.account.sdk, 1, &[("Tainted", "x")])
        .await
        .remove(0);
    let away = launch(&org.member, 1, &[("Tainted", "x")]).await.remove(0);

    let first = deliver(&fw, &isolator, &tainted("ev-home", &home, ACCOUNT)).await;
    assert!(
        matches!(first.outcome_of(&home), Some(Outcome::Remediated { .. })),
        "{first:?}"
    );
    let second = deliver(&fw, &isolator, &tainted("ev-away", &away, MEMBER)).await;
    match second.outcome_of(&instance_key(MEMBER, &away)) {
        Some(Outcome::Held { reason }) => {
            assert!(reason.contains("across every account"), "{reason}")
        }
        other => panic!("the member's isolation was not held: {other:?}"),
    }
    assert_eq!(tags_of(&org.member, &away).await.get(STATUS_TAG), None);
    // The member's account slot was given back: only the home's is taken.
    let member_slots = org
        .account
        .history_with(&format!("SAFEGUARD-ACCOUNT#{MEMBER}#"))
        .await;
    assert!(member_slots.is_empty(), "{member_slots:?}");
}

#[tokio::test]
async fn an_event_of_an_account_not_listed_changes_nothing_and_pages() {
    let org = Org::new().await;
    let (fw, isolator) = org.isolator(&[]).await;
    let outsider = org.account.other(OUTSIDER).await;
    let victim = launch(&outsider, 1, &[("Tainted", "x")]).await.remove(0);

    let mut event = sample("organization/create-tags-in-unlisted-account.json");
    assert_eq!(event["account"], OUTSIDER);
    event["detail"]["requestParameters"]["resourcesSet"]["items"] = json!([{"resourceId": victim}]);
    let summary = deliver(&fw, &isolator, &event).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|w| w.contains("not in MEMBER_ACCOUNTS")),
        "{summary:?}"
    );
    assert!(
        matches!(
            summary.cases.as_slice(),
            [c] if matches!(c.outcome, Outcome::Noticed { .. })
        ),
        "{summary:?}"
    );
    assert!(!tags_of(&outsider, &victim).await.contains_key(STATUS_TAG));
    assert!(
        fleet::groups_named(&outsider, "tourniquet-*")
            .await
            .is_empty()
    );
    assert!(
        org.account.history_with("INCIDENT#").await.is_empty(),
        "no incident opened"
    );
    let notes = org.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "CRITICAL", "a taint nobody answers");
    assert_eq!(notes[0].attr("account"), OUTSIDER);
    assert_eq!(notes[0].attr("action"), "refused");
    assert!(
        notes[0].message.contains("Contain by hand"),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn a_member_role_that_cannot_be_assumed_changes_nothing_and_pages() {
    let org = Org::new().await;
    let (fw, isolator) = org.isolator(&[]).await;
    let victim = launch(&org.member, 1, &[("Tainted", "x")]).await.remove(0);
    // The emulator lets any role be assumed: the refusal is injected.
    org.account.inject_fault("AssumeRole", "AccessDenied");

    let summary = deliver(&fw, &isolator, &tainted("ev-denied", &victim, MEMBER)).await;
    org.account.set_faults(json!([]));
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|w| w.contains("cannot be assumed")),
        "{summary:?}"
    );
    assert!(!tags_of(&org.member, &victim).await.contains_key(STATUS_TAG));
    let notes = org.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0]
            .message
            .contains(&format!("arn:aws:iam::{MEMBER}:role/{ROLE}")),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn one_account_by_default_refuses_another_s_events() {
    let org = Org::new().await;
    let fw = org.account.framework(isolate_instance::FUNCTION, &[]).await;
    let config = IsolateConfig::from_env(&org.account.env(&[])).expect("config");
    let isolator = Isolator::new(&fw, config);
    let victim = launch(&org.member, 1, &[("Tainted", "x")]).await.remove(0);
    let summary = deliver(&fw, &isolator, &tainted("ev-single", &victim, MEMBER)).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|w| w.contains("MEMBER_ROLE_NAME is not set")),
        "{summary:?}"
    );
    assert!(!tags_of(&org.member, &victim).await.contains_key(STATUS_TAG));
    // The central account's own instances are keyed by their id, as always.
    let home = launch(&org.account.sdk, 1, &[("Tainted", "x")])
        .await
        .remove(0);
    let summary = deliver(&fw, &isolator, &tainted("ev-home", &home, ACCOUNT)).await;
    assert!(
        matches!(summary.outcome_of(&home), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
}

/// The member role lets the central functions do in a member account what their own roles
/// let them do at home: what their steps declare, nothing else.
#[test]
fn the_member_role_grants_what_the_functions_steps_declare_and_nothing_else() {
    use tourniquet::permissions::{MEMBER_ACCESS, allowed_by_role};
    let template = include_str!("../member.yaml");
    let granted = allowed_by_role(template, "MemberRole");
    let declared: std::collections::BTreeSet<String> = [
        isolate_instance::permissions::PERMISSIONS,
        heal_cloudtrail::permissions::PERMISSIONS,
        disable_offender::permissions::PERMISSIONS,
    ]
    .iter()
    .flat_map(|p| p.iter())
    .filter(|n| n.step != MEMBER_ACCESS.step)
    .flat_map(|n| n.actions.iter().map(|a| (*a).to_owned()))
    .collect();
    let extra: Vec<_> = granted.difference(&declared).collect();
    let missing: Vec<_> = declared.difference(&granted).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "granted but declared by no step: {extra:?}; declared but not granted: {missing:?}"
    );
}

#[tokio::test]
async fn a_member_stack_rule_disabled_pages_and_a_look_alike_name_is_ignored() {
    let org = Org::new().await;
    let env = Org::env(&[
        (
            "GUARDED_FUNCTIONS",
            "arn:aws:lambda:us-east-1:123456789012:function:tourniquet-IsolateInstanceFunction-ABC",
        ),
        (
            "GUARDED_KEYS",
            "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
        ),
    ]);
    let fw = org
        .account
        .framework(guard_tourniquet::FUNCTION, &env)
        .await;
    let guard = guard_tourniquet::Guard::new(
        &fw,
        guard_tourniquet::GuardConfig::from_env(&org.account.env(&env)).expect("config"),
    );
    let sample = sample("guard-tourniquet/disable-rule.json");

    // The member stack's forwarding rule, disabled in the member account: paged, naming it.
    let disabled = tourniquet_tests::sample("organization/disable-forward-rule.json");
    let summary = deliver(&fw, &guard, &disabled).await;
    let rule = format!("arn:aws:events:{REGION}:{MEMBER}:rule/tourniquet-forward-taint-calls");
    assert!(
        matches!(summary.outcome_of(&rule), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    let notes = org.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert_eq!(notes[0].attr("account"), MEMBER);
    assert!(
        notes[0].subject.contains("member stack disarmed"),
        "{}",
        notes[0].subject
    );

    // A rule of the member account that only bears the name of a central one is not
    // Tourniquet's: nothing is read or put back in the central account.
    let look_alike = in_account(&sample, MEMBER);
    let summary = deliver(&fw, &guard, &look_alike).await;
    assert!(summary.cases.is_empty(), "{summary:?}");
    assert!(org.account.notifications().await.is_empty());
}

#[tokio::test]
async fn a_repeat_offender_in_a_member_account_is_disabled_there() {
    let org = Org::new().await;
    let env = Org::env(&[("OFFENSE_LIMIT", "1")]);
    let fw = org
        .account
        .framework(disable_offender::FUNCTION, &env)
        .await;
    let disabler = disable_offender::Disabler::new(
        &fw,
        disable_offender::DisableConfig::from_env(&org.account.env(&env)).expect("config"),
    );
    // An alice in each account: only the member's offends.
    let central_iam = aws_sdk_iam::Client::new(&org.account.sdk);
    let member_iam = aws_sdk_iam::Client::new(&org.member);
    for iam in [&central_iam, &member_iam] {
        iam.create_user()
            .user_name("alice")
            .send()
            .await
            .expect("user");
        iam.create_access_key()
            .user_name("alice")
            .send()
            .await
            .expect("key");
    }
    let active = |iam: aws_sdk_iam::Client| async move {
        iam.list_access_keys()
            .user_name("alice")
            .send()
            .await
            .expect("keys")
            .access_key_metadata()
            .iter()
            .filter(|k| k.status() == Some(&aws_sdk_iam::types::StatusType::Active))
            .count()
    };
    for (id, file) in [
        ("off-1", "disable-offender/stop-logging-by-user.json"),
        ("off-2", "disable-offender/update-trail-by-user.json"),
    ] {
        let mut event = in_account(&sample(file), MEMBER);
        event["id"] = json!(id);
        let event = tourniquet_tests::as_recorded(&org.member, &event).await;
        deliver(&fw, &disabler, &event).await;
    }
    assert_eq!(
        active(member_iam.clone()).await,
        0,
        "the member's alice is disabled"
    );
    assert_eq!(
        active(central_iam.clone()).await,
        1,
        "the central alice is untouched"
    );
    let offender = format!("arn:aws:iam::{MEMBER}:user/alice");
    let offenses = org.account.history_with("OFFENSE#").await;
    assert_eq!(offenses.len(), 2, "{offenses:?}");
    assert!(
        offenses
            .iter()
            .all(|o| tourniquet_tests::attr(o, "pk").contains(&offender)),
        "offenses are counted under the member's principal: {offenses:?}"
    );
    let notes = org.account.notifications().await;
    assert!(
        notes
            .iter()
            .any(|n| n.attr("account") == MEMBER && n.attr("action") == "disable"),
        "{notes:?}"
    );
}

#[tokio::test]
async fn sts_throttling_the_member_role_makes_the_event_retried_not_refused() {
    let org = Org::new().await;
    let (fw, isolator) = org.isolator(&[]).await;
    let victim = launch(&org.member, 1, &[("Tainted", "x")]).await.remove(0);
    // Throttled on every try: the SDK's own retries give up too.
    org.account.inject_fault("AssumeRole", "Throttling");
    let handled = tourniquet::pipeline::handle(
        &fw,
        &isolator,
        &tainted("ev-throttled", &victim, MEMBER),
        "request-1",
    )
    .await;
    org.account.set_faults(json!([]));
    match handled {
        Err(tourniquet::pipeline::HandleError::Retry(why)) => {
            assert!(why.contains("could not be assumed now"), "{why}")
        }
        other => panic!("not retried: {other:?}"),
    }
    assert!(
        org.account.notifications().await.is_empty(),
        "nothing refused, nobody paged yet: Lambda retries"
    );
    // The retry, STS answering again, isolates.
    let summary = deliver(&fw, &isolator, &tainted("ev-throttled", &victim, MEMBER)).await;
    assert!(
        matches!(
            summary.outcome_of(&instance_key(MEMBER, &victim)),
            Some(Outcome::Remediated { .. })
        ),
        "{summary:?}"
    );
}
