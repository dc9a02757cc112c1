//! heal-cloudtrail against the emulator: a multi-region trail, tampered with in every way.
//!
//! Emulator gap: `StartLogging`/`StopLogging` by trail ARN answer 500 on the emulator while
//! AWS accepts ARNs; the function always calls them by name in the trail's home region, and
//! the resolution of an ARN to that name and region is unit-tested in `trail.rs` and below.

use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};
use heal_cloudtrail::{FUNCTION, Healer};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tourniquet::pipeline::handle;
use tourniquet::{Outcome, Summary};
use tourniquet_tests::{Account, attr, create_bucket, raced, sample, tally};

const TRAIL: &str = "org-audit";
const ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit";
const BUCKET: &str = "org-audit-logs";

struct Setup {
    account: Account,
    fw: tourniquet::Framework,
    healer: Healer,
    ct: aws_sdk_cloudtrail::Client,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let account = Account::new().await;
    create_bucket(BUCKET);
    let ct = aws_sdk_cloudtrail::Client::new(&account.sdk);
    ct.create_trail()
        .name(TRAIL)
        .s3_bucket_name(BUCKET)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .expect("create trail");
    ct.put_event_selectors()
        .trail_name(TRAIL)
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await
        .expect("selectors");
    ct.start_logging()
        .name(TRAIL)
        .send()
        .await
        .expect("start logging");
    let fw = account.framework(FUNCTION, extra).await;
    let healer = Healer::new(&fw);
    Setup {
        account,
        fw,
        healer,
        ct,
    }
}

impl Setup {
    async fn deliver(&self, event: &Value) -> Summary {
        handle(&self.fw, &self.healer, event, "request-1")
            .await
            .expect("handled")
    }
    /// The daily audit, which records baselines of healthy trails.
    async fn audit(&self, id: &str) -> Summary {
        let mut event = sample("heal-cloudtrail/scheduled-audit.json");
        event["id"] = json!(id);
        self.deliver(&event).await
    }
    async fn logging(&self) -> bool {
        self.ct
            .get_trail_status()
            .name(TRAIL)
            .send()
            .await
            .expect("status")
            .is_logging()
            .unwrap_or(false)
    }
    async fn trail(&self) -> Option<aws_sdk_cloudtrail::types::Trail> {
        self.ct
            .describe_trails()
            .trail_name_list(TRAIL)
            .send()
            .await
            .expect("describe")
            .trail_list()
            .first()
            .cloned()
    }
}

fn healed(summary: &Summary) -> Vec<tourniquet::Step> {
    match summary.outcome_of(ARN) {
        Some(Outcome::Remediated { steps }) => steps.clone(),
        other => panic!("not healed: {other:?} in {summary:?}"),
    }
}

#[tokio::test]
async fn stop_logging_is_undone_and_a_person_is_told() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    assert_eq!(s.account.history_with("BASELINE#trail").await.len(), 1);
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    assert!(!s.logging().await);

    let summary = s
        .deliver(&sample("heal-cloudtrail/stop-logging.json"))
        .await;
    let steps = healed(&summary);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].name, "start-logging");
    assert!(s.logging().await);

    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].severity(),
        "WARNING",
        "healed, but someone tampered"
    );
    assert_eq!(notes[0].attr("action"), "heal");
    assert_eq!(notes[0].attr("resource"), ARN);
    assert!(
        notes[0]
            .message
            .contains("StopLogging by arn:aws:iam::123456789012:user/alice")
    );
    let incidents = s.account.history_with(&format!("INCIDENT#{ARN}")).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(attr(&incidents[0], "status"), "remediated");
    assert_eq!(
        attr(&incidents[0], "actor"),
        "arn:aws:iam::123456789012:user/alice"
    );
    let before: Value = serde_json::from_str(attr(&incidents[0], "before")).unwrap();
    assert_eq!(before["trail"]["logging"], false);
    assert_eq!(before["baseline"]["logging"], true);
}

#[tokio::test]
async fn an_event_naming_the_trail_by_arn_heals_by_name_in_the_home_region() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    let summary = s
        .deliver(&sample("heal-cloudtrail/stop-logging-by-arn.json"))
        .await;
    assert_eq!(healed(&summary)[0].name, "start-logging");
    assert!(s.logging().await);
}

#[tokio::test]
async fn disabled_log_file_validation_is_restored() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.update_trail()
        .name(TRAIL)
        .enable_log_file_validation(false)
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample("heal-cloudtrail/update-trail-validation-off.json"))
        .await;
    let steps = healed(&summary);
    assert!(
        steps.iter().any(|st| st.name == "update-trail"),
        "{steps:?}"
    );
    let trail = s.trail().await.expect("trail");
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.s3_bucket_name(), Some(BUCKET));
    let notes = s.account.notifications().await;
    assert!(
        notes[0].message.contains("log file validation turned off"),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn dropped_management_events_are_restored() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.put_event_selectors()
        .trail_name(TRAIL)
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample(
            "heal-cloudtrail/put-event-selectors-no-management.json",
        ))
        .await;
    assert!(
        healed(&summary)
            .iter()
            .any(|st| st.name == "event-selectors")
    );
    let selectors =
        s.ct.get_event_selectors()
            .trail_name(TRAIL)
            .send()
            .await
            .unwrap();
    let first = &selectors.event_selectors()[0];
    assert_eq!(first.include_management_events(), Some(true));
    assert_eq!(first.read_write_type(), Some(&ReadWriteType::All));
}

#[tokio::test]
async fn a_deleted_trail_is_recreated_from_its_baseline() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.delete_trail().name(TRAIL).send().await.unwrap();
    assert!(s.trail().await.is_none());
    let summary = s
        .deliver(&sample("heal-cloudtrail/delete-trail.json"))
        .await;
    let steps = healed(&summary);
    let names: Vec<&str> = steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["create-trail", "event-selectors", "start-logging"]
    );
    let trail = s.trail().await.expect("recreated");
    assert_eq!(trail.s3_bucket_name(), Some(BUCKET));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.include_global_service_events(), Some(true));
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    assert!(s.logging().await);
}

#[tokio::test]
async fn a_deleted_trail_without_baseline_wakes_a_human() {
    let s = setup(&[]).await;
    s.ct.delete_trail().name(TRAIL).send().await.unwrap();
    let summary = s
        .deliver(&sample("heal-cloudtrail/delete-trail.json"))
        .await;
    assert!(
        matches!(summary.outcome_of(ARN), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    assert!(s.trail().await.is_none());
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains("A person must recreate it now"));
}

#[tokio::test]
async fn the_scheduled_audit_records_baselines_and_heals_drift() {
    let s = setup(&[]).await;
    let first = s.audit("audit-1").await;
    assert!(
        matches!(
            first.outcome_of(ARN),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{first:?}"
    );
    let baselines = s.account.history_with("BASELINE#trail").await;
    assert_eq!(baselines.len(), 1);
    assert_eq!(attr(&baselines[0], "sk"), ARN);
    assert!(
        s.account.notifications().await.is_empty(),
        "a healthy audit is quiet"
    );

    // Drift that raised no event the function saw.
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    s.ct.update_trail()
        .name(TRAIL)
        .include_global_service_events(false)
        .send()
        .await
        .unwrap();
    let second = s.audit("audit-2").await;
    let steps = healed(&second);
    assert!(steps.iter().all(|st| st.ok), "{steps:?}");
    assert!(s.logging().await);
    assert_eq!(
        s.trail().await.unwrap().include_global_service_events(),
        Some(true)
    );
}

#[tokio::test]
async fn own_role_failed_calls_redelivery_and_dry_run() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();

    // This function's own identity stopping a trail is not healed (no loops).
    let mut own = sample("heal-cloudtrail/stop-logging.json");
    own["id"] = json!("own-1");
    own["detail"]["userIdentity"] = json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/moto",
        "userName": "moto", "accountId": "123456789012", "principalId": "AIDAMOTO"});
    let summary = s.deliver(&own).await;
    assert!(summary.ignored.is_some());
    assert!(!s.logging().await);

    // Redelivered three times at once: healed once.
    let event = sample("heal-cloudtrail/stop-logging.json");
    let summaries = raced(3, || handle(&s.fw, &s.healer, &event, "request-1")).await;
    assert_eq!(
        tally(&summaries),
        BTreeMap::from([("duplicate", 2), ("remediated", 1)])
    );
    assert!(s.logging().await);

    // A denied StopLogging: the live trail is checked, found healthy, left alone.
    let summary = s
        .deliver(&sample("heal-cloudtrail/stop-logging-denied.json"))
        .await;
    assert!(
        matches!(
            summary.outcome_of(ARN),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{summary:?}"
    );
    assert_eq!(s.account.notifications().await.len(), 1);

    // Dry run: says what it would do, changes nothing.
    let dry_fw = s.account.framework(FUNCTION, &[("DRY_RUN", "true")]).await;
    let dry = Healer::new(&dry_fw);
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    let mut event = sample("heal-cloudtrail/stop-logging.json");
    event["id"] = json!("dry-1");
    let summary = handle(&dry_fw, &dry, &event, "r").await.unwrap();
    assert!(
        matches!(summary.outcome_of(ARN), Some(Outcome::DryRun { .. })),
        "{summary:?}"
    );
    assert!(!s.logging().await);
}

#[tokio::test]
async fn with_history_down_a_stopped_trail_logs_again_and_a_human_is_woken() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    // The history table is gone (deleted, or its key disabled).
    let gone =
        |op: &str| json!({"operation": op, "code": "ResourceNotFoundException", "status": 400});
    s.account.set_faults(json!([
        gone("UpdateItem"),
        gone("PutItem"),
        gone("GetItem"),
        gone("Query")
    ]));
    let summary = s
        .deliver(&sample("heal-cloudtrail/stop-logging.json"))
        .await;
    s.account.set_faults(json!([]));
    let Some(Outcome::Partial { steps }) = summary.outcome_of(ARN) else {
        panic!("{summary:?}")
    };
    assert!(
        steps.iter().any(|st| st.name == "start-logging" && st.ok),
        "{steps:?}"
    );
    assert!(s.logging().await, "logging again without any history");
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0].message.contains("nothing recorded"),
        "{}",
        notes[0].message
    );

    // A weakening that needs the baseline waits for it: nothing is guessed.
    s.ct.update_trail()
        .name(TRAIL)
        .enable_log_file_validation(false)
        .send()
        .await
        .unwrap();
    s.account
        .set_faults(json!([gone("UpdateItem"), gone("GetItem"), gone("Query")]));
    let weakened = s
        .deliver(&sample("heal-cloudtrail/update-trail-validation-off.json"))
        .await;
    s.account.set_faults(json!([]));
    assert!(
        matches!(weakened.outcome_of(ARN), Some(Outcome::Held { .. })),
        "{weakened:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    let trail =
        s.ct.describe_trails()
            .trail_name_list(TRAIL)
            .send()
            .await
            .unwrap();
    assert_eq!(
        trail.trail_list()[0].log_file_validation_enabled(),
        Some(false),
        "left for the audit once history is back"
    );
}

#[tokio::test]
async fn a_changed_notification_topic_is_restored_and_never_becomes_the_baseline() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    let topic = aws_sdk_sns::Client::new(&s.account.sdk)
        .create_topic()
        .name("somebody-elses")
        .send()
        .await
        .unwrap();
    // Changed with no event the function saw; the audit finds it.
    s.ct.update_trail()
        .name(TRAIL)
        .sns_topic_name(topic.topic_arn().unwrap())
        .send()
        .await
        .unwrap();
    let summary = s.audit("audit-2").await;
    let steps = healed(&summary);
    assert!(
        steps.iter().any(|st| st.ok
            && st.name == "update-trail"
            && st.detail.contains("notification topic")),
        "{steps:?}"
    );
    let live = s.trail().await.unwrap();
    assert!(
        live.sns_topic_arn().unwrap_or_default().is_empty(),
        "{live:?}"
    );
    let baselines = s.account.history_with("BASELINE#trail").await;
    assert!(
        !format!("{baselines:?}").contains("somebody-elses"),
        "the weakened configuration was not kept as known good"
    );
}

#[tokio::test]
async fn advanced_selectors_that_exclude_a_source_are_restored() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    s.ct.put_event_selectors()
        .trail_name(TRAIL)
        .advanced_event_selectors(
            aws_sdk_cloudtrail::types::AdvancedEventSelector::builder()
                .field_selectors(
                    aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .unwrap(),
                )
                .field_selectors(
                    aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                        .field("eventSource")
                        .not_equals("cloudtrail.amazonaws.com")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample(
            "heal-cloudtrail/put-event-selectors-advanced-exclude.json",
        ))
        .await;
    assert!(
        s.account.notifications().await[0]
            .message
            .contains("management events from cloudtrail.amazonaws.com excluded")
    );
    assert!(
        healed(&summary)
            .iter()
            .any(|st| st.ok && st.name == "event-selectors"),
        "{summary:?}"
    );
    let selectors =
        s.ct.get_event_selectors()
            .trail_name(TRAIL)
            .send()
            .await
            .unwrap();
    assert_eq!(
        selectors.event_selectors()[0].include_management_events(),
        Some(true)
    );
}

#[tokio::test]
async fn a_trail_that_cannot_deliver_wakes_a_human_naming_the_error() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    // The emulator never fails a delivery: its wrapper answers GetTrailStatus as AWS does
    // when the bucket's policy denies CloudTrail.
    s.account
        .set_faults(json!([{"operation": "GetTrailStatus", "answer": {
            "IsLogging": true,
            "LatestDeliveryError": "AccessDenied",
            "LatestDeliveryTime": 1795900000
        }}]));
    let summary = s.audit("audit-2").await;
    s.account.set_faults(json!([]));
    let steps = match summary.outcome_of(ARN) {
        Some(Outcome::Partial { steps }) => steps.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        steps
            .iter()
            .any(|st| !st.ok && st.name == "delivery" && st.detail.contains("AccessDenied")),
        "{steps:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains("AccessDenied"));
    // The failing trail never became the known good one.
    let baselines = s.account.history_with("BASELINE#trail").await;
    assert!(!format!("{baselines:?}").contains("AccessDenied"));
}

#[tokio::test]
async fn only_the_audit_keeps_a_baseline() {
    let s = setup(&[]).await;
    // No audit yet: an event finds the trail weakened and nothing to restore it to.
    s.ct.update_trail()
        .name(TRAIL)
        .enable_log_file_validation(false)
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample("heal-cloudtrail/update-trail-validation-off.json"))
        .await;
    assert!(
        matches!(summary.outcome_of(ARN), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    assert!(s.account.history_with("BASELINE#trail").await.is_empty());
    let notes = s.account.notifications().await;
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains("log file validation turned off"));
}

/// A policy that lets CloudTrail write the trail's logs, as AWS's documentation writes it,
/// plus the common deny of plain HTTP (a deny that was always there is no weakening).
fn delivery_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": format!("arn:aws:s3:::{BUCKET}")},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": format!("arn:aws:s3:::{BUCKET}/AWSLogs/123456789012/*")},
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    ]})
}

/// An enabled lifecycle rule that expires the objects under `prefix` after `days`.
fn expiring(id: &str, prefix: &str, days: i32) -> aws_sdk_s3::types::LifecycleRule {
    use aws_sdk_s3::types::{
        ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    };
    LifecycleRule::builder()
        .id(id)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .unwrap()
}

/// The trail's bucket with its delivery policy, versioning, and a lifecycle rule that keeps
/// the logs a year; then the audit records it all as known good.
async fn with_a_kept_bucket(s: &Setup) -> aws_sdk_s3::Client {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, BucketVersioningStatus, VersioningConfiguration,
    };
    let s3 = aws_sdk_s3::Client::new(&s.account.sdk);
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(delivery_policy().to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let year = expiring("keep-a-year", "AWSLogs/", 365);
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(year)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let audit = s.audit("audit-kept").await;
    assert!(
        matches!(
            audit.outcome_of(ARN),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{audit:?}"
    );
    s3
}

/// The same call as `sample`, on another bucket or key, or another operation.
fn delivery_call(sample_name: &str, name: &str, request: Value) -> Value {
    let mut event = sample(sample_name);
    event["detail"]["eventName"] = json!(name);
    event["detail"]["requestParameters"] = request;
    event["id"] = json!(format!(
        "{name}-{}",
        event["id"].as_str().unwrap_or_default()
    ));
    event
}

#[tokio::test]
async fn a_lifecycle_rule_that_expires_the_logs_is_removed_and_others_stay() {
    use aws_sdk_s3::types::BucketLifecycleConfiguration;
    let s = setup(&[]).await;
    let s3 = with_a_kept_bucket(&s).await;
    // Stratus Red Team's defense evasion: every object expires after a day.
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(expiring("expire-everything", "", 1))
                .rules(expiring("tmp", "tmp/", 1))
                .rules(expiring("keep-a-year", "AWSLogs/", 365))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample("heal-cloudtrail/put-bucket-lifecycle.json"))
        .await;
    let steps = healed(&summary);
    assert!(
        steps
            .iter()
            .any(|st| st.ok && st.name == "lifecycle" && st.detail.contains("expire-everything")),
        "{steps:?}"
    );
    let rules = s3
        .get_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = rules.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(
        ids,
        ["tmp", "keep-a-year"],
        "only the rule over the logs went"
    );
    let notes = s.account.notifications().await;
    assert!(
        notes[0]
            .message
            .contains("expires the log files after 1 day(s)")
    );
    // A call on a bucket that is no trail's is ignored after one read.
    let other = delivery_call(
        "heal-cloudtrail/put-bucket-lifecycle.json",
        "PutBucketLifecycle",
        json!({"bucketName": "someone-elses-bucket"}),
    );
    let summary = s.deliver(&other).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .unwrap_or("")
            .contains("no trail's bucket"),
        "{summary:?}"
    );
}

#[tokio::test]
async fn a_bucket_policy_that_denies_cloudtrail_is_put_back_and_versioning_enabled() {
    // Emulator gaps: moto names the root of `GetBucketVersioning`'s answer unlike AWS (the
    // wrapper rewords it), and does not check `ExpectedBucketOwner`.
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let s = setup(&[]).await;
    let s3 = with_a_kept_bucket(&s).await;
    let mut denied = delivery_policy();
    denied["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "NoMoreLogs",
        "Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}));
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(denied.to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = delivery_call(
        "heal-cloudtrail/put-bucket-lifecycle.json",
        "PutBucketPolicy",
        json!({"bucketName": BUCKET, "bucketPolicy": denied}),
    );
    let steps = healed(&s.deliver(&event).await);
    for name in ["bucket-policy", "versioning"] {
        assert!(
            steps.iter().any(|st| st.ok && st.name == name),
            "{name}: {steps:?}"
        );
    }
    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(policy, delivery_policy());
    let versioning = s3
        .get_bucket_versioning()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
}

#[tokio::test]
async fn a_deleted_bucket_is_claimed_again_at_once_and_a_human_is_woken() {
    let s = setup(&[]).await;
    let s3 = with_a_kept_bucket(&s).await;
    s3.delete_bucket_policy()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(BUCKET).send().await.unwrap();
    let event = delivery_call(
        "heal-cloudtrail/put-bucket-lifecycle.json",
        "DeleteBucket",
        json!({"bucketName": BUCKET}),
    );
    let summary = s.deliver(&event).await;
    let Some(Outcome::Partial { steps }) = summary.outcome_of(ARN) else {
        panic!("{summary:?}")
    };
    assert!(
        steps.iter().any(|st| st.ok && st.name == "recreate-bucket"),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|st| st.ok && st.name == "bucket-policy"),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|st| !st.ok && st.name == "logs-lost"),
        "{steps:?}"
    );
    s3.head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the name is ours again");
    let notes = s.account.notifications().await;
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains("deleted"), "{}", notes[0].message);
}

#[tokio::test]
async fn a_key_scheduled_for_deletion_is_kept_and_enabled_and_the_caller_is_an_offender() {
    // Emulator gap: `EnableKey` and `CancelKeyDeletion` by key ARN answer 500 on the emulator
    // (AWS takes an id or an ARN); the function names the key by the id `DescribeKey` gives.
    let s = setup(&[]).await;
    let kms = aws_sdk_kms::Client::new(&s.account.sdk);
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let key_policy = |cloudtrail: bool| {
        let mut statements = vec![json!({"Sid": "Admins", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"})];
        if cloudtrail {
            statements.push(json!({"Sid": "CloudTrailEncrypts", "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*", "Resource": "*"}));
        }
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    };
    kms.put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(key_policy(true))
        .send()
        .await
        .unwrap();
    s.ct.update_trail()
        .name(TRAIL)
        .kms_key_id(&key_arn)
        .send()
        .await
        .unwrap();
    s.audit("audit-key").await;
    assert!(
        format!("{:?}", s.account.history_with("BASELINE#trail").await).contains(&key_id),
        "the baseline keeps the key"
    );
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let mut event = sample("heal-cloudtrail/schedule-key-deletion.json");
    event["detail"]["requestParameters"]["keyId"] = json!(key_id);
    let steps = healed(&s.deliver(&event).await);
    for name in ["cancel-key-deletion", "enable-key"] {
        assert!(
            steps.iter().any(|st| st.ok && st.name == name),
            "{name}: {steps:?}"
        );
    }
    let state = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        state.key_metadata().unwrap().key_state(),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    // disable-offender counts it: the key is a trail's.
    let fw = s.account.framework(disable_offender::FUNCTION, &[]).await;
    let offender = disable_offender::Disabler::new(
        &fw,
        disable_offender::DisableConfig::from_env(&s.account.env(&[])).expect("config"),
    );
    let summary = handle(&fw, &offender, &event, "r").await.unwrap();
    assert_eq!(summary.cases.len(), 1, "{summary:?}");
    // Not on another key.
    let other = kms.create_key().send().await.unwrap();
    let mut elsewhere = event.clone();
    elsewhere["id"] = json!("other-key");
    elsewhere["detail"]["requestParameters"]["keyId"] =
        json!(other.key_metadata().unwrap().key_id());
    let summary = handle(&fw, &offender, &elsewhere, "r").await.unwrap();
    assert!(summary.cases.is_empty(), "{summary:?}");
    // Disabled, and its policy no longer lets CloudTrail encrypt: the audit puts both back.
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    kms.put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(key_policy(false))
        .send()
        .await
        .unwrap();
    let steps = healed(&s.audit("audit-disabled").await);
    for name in ["enable-key", "key-policy"] {
        assert!(
            steps.iter().any(|st| st.ok && st.name == name),
            "{name}: {steps:?}"
        );
    }
    let policy = kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(policy.policy().unwrap().contains("CloudTrailEncrypts"));
}

#[tokio::test]
async fn a_stopped_event_data_store_ingests_again() {
    // Emulator gap: the emulator has no CloudTrail Lake; its wrapper answers the store's
    // calls as AWS does, and counts them.
    let s = setup(&[]).await;
    let store = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE";
    let answers = |status: &str| {
        json!([
            {"operation": "ListEventDataStores", "answer": {"EventDataStores": [{"EventDataStoreArn": store}]}},
            {"operation": "GetEventDataStore", "answer": {"EventDataStoreArn": store, "Status": status}},
            {"operation": "StartEventDataStoreIngestion", "answer": {}}
        ])
    };
    let started = |s: &Setup| {
        s.account
            .requests()
            .get("StartEventDataStoreIngestion")
            .copied()
            .unwrap_or(0)
    };
    s.account.set_faults(answers("STOPPED_INGESTION"));
    let summary = s
        .deliver(&sample(
            "heal-cloudtrail/stop-event-data-store-ingestion.json",
        ))
        .await;
    assert!(
        matches!(summary.outcome_of(store), Some(Outcome::Remediated { steps }) if steps.iter().any(|st| st.ok && st.name == "start-ingestion")),
        "{summary:?}"
    );
    assert_eq!(started(&s), 1);
    // The audit: a store stopped and never seen ingesting is left alone (Lake bills by
    // ingestion, so it may be stopped on purpose); one seen ingesting is recorded, and
    // started again when a later audit finds it stopped.
    let summary = s.audit("audit-stopped").await;
    assert!(
        matches!(summary.outcome_of(store), Some(Outcome::NothingToDo { .. })),
        "{summary:?}"
    );
    s.account.set_faults(answers("ENABLED"));
    s.audit("audit-on").await;
    assert_eq!(
        s.account
            .history_with("BASELINE#event-data-store")
            .await
            .len(),
        1
    );
    s.account.set_faults(answers("STOPPED_INGESTION"));
    let summary = s.audit("audit-off").await;
    s.account.set_faults(json!([]));
    assert!(
        matches!(summary.outcome_of(store), Some(Outcome::Remediated { .. })),
        "{summary:?}"
    );
    assert_eq!(started(&s), 2);
}

#[tokio::test]
async fn a_removed_default_retention_is_put_back() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let s = setup(&[]).await;
    let s3 = aws_sdk_s3::Client::new(&s.account.sdk);
    let locked_bucket = "org-audit-locked";
    let lock = |retained: bool| {
        let config =
            ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled);
        if !retained {
            return config.build();
        }
        config
            .rule(
                ObjectLockRule::builder()
                    .default_retention(
                        DefaultRetention::builder()
                            .mode(ObjectLockRetentionMode::Compliance)
                            .days(30)
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    s3.create_bucket()
        .bucket(locked_bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    s3.put_object_lock_configuration()
        .bucket(locked_bucket)
        .object_lock_configuration(lock(true))
        .send()
        .await
        .unwrap();
    s.ct.update_trail()
        .name(TRAIL)
        .s3_bucket_name(locked_bucket)
        .send()
        .await
        .unwrap();
    s.audit("audit-locked").await;
    s3.put_object_lock_configuration()
        .bucket(locked_bucket)
        .object_lock_configuration(lock(false))
        .send()
        .await
        .unwrap();
    let event = delivery_call(
        "heal-cloudtrail/put-bucket-lifecycle.json",
        "PutObjectLockConfiguration",
        json!({"bucketName": locked_bucket, "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}),
    );
    let steps = healed(&s.deliver(&event).await);
    assert!(
        steps.iter().any(|st| st.ok && st.name == "retention"),
        "{steps:?}"
    );
    let kept = s3
        .get_object_lock_configuration()
        .bucket(locked_bucket)
        .send()
        .await
        .unwrap();
    let retention = kept
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .cloned();
    assert_eq!(retention.and_then(|r| r.days()), Some(30));
}

#[tokio::test]
async fn logs_moved_to_another_bucket_go_back_to_theirs_claimed_again() {
    let s = setup(&[]).await;
    let s3 = with_a_kept_bucket(&s).await;
    create_bucket("somebody-elses-logs");
    s.ct.update_trail()
        .name(TRAIL)
        .s3_bucket_name("somebody-elses-logs")
        .send()
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(BUCKET).send().await.unwrap();
    let summary = s.audit("audit-moved").await;
    let Some(Outcome::Partial { steps }) = summary.outcome_of(ARN) else {
        panic!("{summary:?}")
    };
    for name in ["recreate-bucket", "bucket-policy", "update-trail"] {
        assert!(
            steps.iter().any(|st| st.ok && st.name == name),
            "{name}: {steps:?}"
        );
    }
    assert_eq!(s.trail().await.unwrap().s3_bucket_name(), Some(BUCKET));
}

/// A forged StopLogging is not believed: no heal, no record, a WARNING naming the source.
#[tokio::test]
async fn a_forged_tampering_event_changes_nothing() {
    let s = setup(&[]).await;
    s.audit("audit-1").await;
    let baselines = s.account.history_with("BASELINE#trail").await;
    let locks = s.account.history_with("LOCK#").await;
    // The audit's own notifications, taken off the queue.
    s.account.notifications().await;
    s.ct.stop_logging().name(TRAIL).send().await.unwrap();
    let forged = tourniquet_tests::forged(&sample("heal-cloudtrail/stop-logging.json"), "f-1");
    let summary = s.deliver(&forged).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|r| r.starts_with("forged")),
        "{summary:?}"
    );
    assert!(!s.logging().await, "the trail is left as it is");
    assert_eq!(s.account.history_with("BASELINE#trail").await, baselines);
    assert_eq!(s.account.history_with("LOCK#").await, locks, "no incident");
    tourniquet_tests::assert_forgeries_reported(&s.account.notifications().await, 1);
}
