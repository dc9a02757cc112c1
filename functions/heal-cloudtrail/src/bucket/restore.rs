//! Putting a trail's log bucket back as its baseline had it: claimed again if gone, its
//! policy, versioning and Object Lock's default retention restored, and the lifecycle rules
//! that expire the log files sooner removed.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, DefaultRetention, LifecycleRule, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use tourniquet::Step;
use tourniquet::errors::sdk_message;
use tourniquet_trail::bucket::{BucketHeal, BucketState};

use super::{client_in, log_expiry};

/// Carries out the heals, in order.
pub async fn heal(
    sdk: &SdkConfig,
    live: &BucketState,
    baseline: &BucketState,
    logs: &str,
    owner: &str,
) -> Vec<Step> {
    let s3 = client_in(sdk, &baseline.region);
    let mut steps = Vec::new();
    for h in live.heals(baseline) {
        match h {
            BucketHeal::Recreate => steps.extend(recreate(&s3, baseline, owner).await),
            BucketHeal::Policy => steps.push(put_policy(&s3, baseline, owner).await),
            BucketHeal::Expiry => steps.push(remove_expiry(&s3, baseline, logs, owner).await),
            BucketHeal::Versioning => {
                steps.push(enable_versioning(&s3, &baseline.name, owner).await)
            }
            BucketHeal::Retention => steps.push(put_retention(&s3, baseline, owner).await),
            BucketHeal::Unhealable => steps.push(Step::critical(
                "log-bucket",
                format!(
                    "log bucket {} cannot be put back by Tourniquet: {}",
                    live.name,
                    live.narrower_than(baseline).join("; ")
                ),
            )),
        }
    }
    steps
}

/// The name is claimed again in this account, with the baseline's policy and versioning. The
/// logs that were in it are gone, which no heal undoes: that step is always critical.
async fn recreate(s3: &Client, baseline: &BucketState, owner: &str) -> Vec<Step> {
    let mut create = s3.create_bucket().bucket(&baseline.name);
    if baseline.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(baseline.region.as_str()))
                .build(),
        );
    }
    let lost = Step::critical(
        "logs-lost",
        format!(
            "log bucket {} was deleted with every log file in it; what was logged before, and \
             until the bucket was back, is gone unless a replica or another trail kept it",
            baseline.name
        ),
    );
    match create.send().await {
        Ok(_) => {}
        Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
        Err(e) => {
            return vec![
                Step::critical(
                    "recreate-bucket",
                    format!(
                        "{} could not be claimed again ({}): if another account owns the name \
                         now, CloudTrail may deliver to it; a person must act",
                        baseline.name,
                        sdk_message(&e)
                    ),
                ),
                lost,
            ];
        }
    }
    let mut steps = vec![Step::ok(
        "recreate-bucket",
        format!(
            "{} created again in this account, in {}",
            baseline.name, baseline.region
        ),
    )];
    if baseline.policy.is_some() {
        steps.push(put_policy(s3, baseline, owner).await);
    }
    if baseline.versioning.as_deref() == Some("Enabled") {
        steps.push(enable_versioning(s3, &baseline.name, owner).await);
    }
    steps.push(lost);
    steps
}

async fn put_policy(s3: &Client, baseline: &BucketState, owner: &str) -> Step {
    let Some(doc) = &baseline.policy else {
        return Step::critical("bucket-policy", "the baseline has no policy to put back");
    };
    let result = s3
        .put_bucket_policy()
        .bucket(&baseline.name)
        .expected_bucket_owner(owner)
        .policy(doc.to_string())
        .send()
        .await;
    match result {
        Ok(_) => Step::ok(
            "bucket-policy",
            format!("the policy of {} put back from the baseline", baseline.name),
        ),
        Err(e) => Step::critical("bucket-policy", sdk_message(&e)),
    }
}

/// Reads the rules again and keeps every one that does not expire the log files sooner than
/// the baseline did, so that rules for other objects stay.
async fn remove_expiry(s3: &Client, baseline: &BucketState, logs: &str, owner: &str) -> Step {
    let name = &baseline.name;
    let rules = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => out.rules().to_vec(),
        Err(e) => return Step::critical("lifecycle", sdk_message(&e)),
    };
    let sooner = |r: &LifecycleRule| match (log_expiry(r, logs), baseline.log_expiry_days) {
        (Some(now), Some(was)) => now < was,
        (Some(_), None) => true,
        _ => false,
    };
    let (removed, kept): (Vec<_>, Vec<_>) = rules.into_iter().partition(sooner);
    let ids: Vec<&str> = removed
        .iter()
        .map(|r| r.id().unwrap_or("(no id)"))
        .collect();
    let result = if kept.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    } else {
        match BucketLifecycleConfiguration::builder()
            .set_rules(Some(kept))
            .build()
        {
            Ok(config) => s3
                .put_bucket_lifecycle_configuration()
                .bucket(name)
                .expected_bucket_owner(owner)
                .lifecycle_configuration(config)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_message(&e)),
            Err(e) => Err(e.to_string()),
        }
    };
    match result {
        Ok(()) => Step::ok(
            "lifecycle",
            format!(
                "removed from {name} the rule(s) expiring the log files: {}",
                ids.join(", ")
            ),
        ),
        Err(e) => Step::critical("lifecycle", e),
    }
}

async fn put_retention(s3: &Client, baseline: &BucketState, owner: &str) -> Step {
    let Some(r) = &baseline.retention else {
        return Step::critical("retention", "the baseline has no retention to put back");
    };
    let days = i32::try_from(r.days).unwrap_or(i32::MAX);
    let config = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(ObjectLockRetentionMode::from(r.mode.as_str()))
                        .days(days)
                        .build(),
                )
                .build(),
        )
        .build();
    let result = s3
        .put_object_lock_configuration()
        .bucket(&baseline.name)
        .expected_bucket_owner(owner)
        .object_lock_configuration(config)
        .send()
        .await;
    match result {
        Ok(_) => Step::ok(
            "retention",
            format!(
                "default retention of {}: {} for {days} day(s) again",
                baseline.name, r.mode
            ),
        ),
        Err(e) => Step::critical("retention", sdk_message(&e)),
    }
}

async fn enable_versioning(s3: &Client, name: &str, owner: &str) -> Step {
    let result = s3
        .put_bucket_versioning()
        .bucket(name)
        .expected_bucket_owner(owner)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await;
    match result {
        Ok(_) => Step::ok("versioning", format!("versioning of {name} enabled again")),
        Err(e) => Step::critical("versioning", sdk_message(&e)),
    }
}
