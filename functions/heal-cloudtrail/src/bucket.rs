//! A trail's log bucket: still there and this account's, letting CloudTrail write, and
//! keeping what it is given (lifecycle, versioning, Object Lock's default retention). A trail can say "logging" while every one of these is gone.

use aws_config::{Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, DefaultRetention, ExpirationStatus, LifecycleRule,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    VersioningConfiguration,
};
use serde_json::Value;
use tourniquet::Step;
use tourniquet::errors::sdk_message;

pub use tourniquet_trail::bucket::log_prefix;
use tourniquet_trail::bucket::{BucketHeal, BucketState, Presence, Retention};

/// A client for the bucket's region.
pub fn client_in(sdk: &SdkConfig, region: &str) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    Client::from_conf(conf)
}

/// Whether an enabled rule expires the log files, and after how many days.
fn log_expiry(rule: &LifecycleRule, logs: &str) -> Option<i64> {
    if rule.status() != &ExpirationStatus::Enabled {
        return None;
    }
    let filter = rule.filter();
    // Log files carry no tags: a rule that needs one never matches them.
    let tagged =
        filter.is_some_and(|f| f.tag().is_some() || f.and().is_some_and(|a| !a.tags().is_empty()));
    if tagged {
        return None;
    }
    #[allow(deprecated)]
    let prefix = filter
        .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
        .or(rule.prefix())
        .unwrap_or("");
    if !(logs.starts_with(prefix) || prefix.starts_with(logs)) {
        return None;
    }
    let expiration = rule.expiration()?;
    match (expiration.days(), expiration.date()) {
        (Some(days), _) => Some(i64::from(days)),
        (None, Some(_)) => Some(0),
        _ => None,
    }
}

/// The shortest expiry of the log files among the rules.
fn shortest_expiry(rules: &[LifecycleRule], logs: &str) -> Option<i64> {
    rules.iter().filter_map(|r| log_expiry(r, logs)).min()
}

/// Reads the bucket: whose it is, then its policy, lifecycle and versioning at once. A
/// configuration the bucket refuses to show is kept in `unreadable` (a bucket that hides it
/// from Tourniquet is itself a finding); a failure to ask at all (throttling, a timeout, a
/// server error) is an error, for a retry, never taken for a bucket gone or taken.
pub async fn read(
    sdk: &SdkConfig,
    home: &Client,
    name: &str,
    logs: &str,
    owner: &str,
) -> Result<BucketState, String> {
    let mut state = BucketState {
        name: name.to_owned(),
        region: home
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default(),
        presence: Presence::Missing,
        policy: None,
        log_expiry_days: None,
        versioning: None,
        retention: None,
        unreadable: None,
    };
    let head = home
        .head_bucket()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await;
    let answered_region = match &head {
        Ok(out) => out.bucket_region().map(str::to_owned),
        Err(e) => e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_owned),
    };
    let s3 = match answered_region {
        Some(region) if region != state.region => {
            state.region = region;
            client_in(sdk, &state.region)
        }
        _ => home.clone(),
    };
    if let Err(e) = head {
        let status = e.raw_response().map(|r| r.status().as_u16());
        match status {
            Some(404) => state.presence = Presence::Missing,
            Some(403) => state.presence = Presence::NotOwned,
            // Asked in the wrong region: the region is known now, ask again there.
            Some(301) => match s3
                .head_bucket()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
            {
                Ok(_) => state.presence = Presence::Owned,
                Err(e) => return Err(format!("HeadBucket {name}: {}", sdk_message(&e))),
            },
            _ => return Err(format!("HeadBucket {name}: {}", sdk_message(&e))),
        }
        if state.presence != Presence::Owned {
            return Ok(state);
        }
    }
    state.presence = Presence::Owned;
    let (policy, lifecycle, versioning, lock) = tokio::join!(
        s3.get_bucket_policy()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send(),
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send(),
        s3.get_bucket_versioning()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send(),
        s3.get_object_lock_configuration()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send(),
    );
    let mut unreadable = Vec::new();
    match policy {
        Ok(out) => match out.policy().map(serde_json::from_str::<Value>) {
            Some(Ok(doc)) => state.policy = Some(doc),
            Some(Err(e)) => unreadable.push(format!("the bucket policy is not JSON: {e}")),
            None => {}
        },
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => {}
        Err(e) => unreadable.push(format!("GetBucketPolicy: {}", sdk_message(&e))),
    }
    match lifecycle {
        Ok(out) => state.log_expiry_days = shortest_expiry(out.rules(), logs),
        Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => {}
        Err(e) => unreadable.push(format!(
            "GetBucketLifecycleConfiguration: {}",
            sdk_message(&e)
        )),
    }
    match versioning {
        Ok(out) => state.versioning = out.status().map(|s| s.as_str().to_owned()),
        Err(e) => unreadable.push(format!("GetBucketVersioning: {}", sdk_message(&e))),
    }
    match lock {
        Ok(out) => {
            state.retention = retention_of(out.object_lock_configuration().and_then(|c| c.rule()))
        }
        Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => {}
        Err(e) => unreadable.push(format!("GetObjectLockConfiguration: {}", sdk_message(&e))),
    }
    if !unreadable.is_empty() {
        state.unreadable = Some(unreadable.join("; "));
    }
    Ok(state)
}

/// Object Lock's default retention, as the SDK reads it.
fn retention_of(rule: Option<&ObjectLockRule>) -> Option<Retention> {
    let d = rule?.default_retention()?;
    let days = d
        .days()
        .map(i64::from)
        .or(d.years().map(|y| i64::from(y) * 365))?;
    Some(Retention {
        mode: d.mode()?.as_str().to_owned(),
        days,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::{LifecycleExpiration, LifecycleRuleFilter, Tag};

    fn rule(prefix: &str, days: i32, enabled: bool) -> LifecycleRule {
        LifecycleRule::builder()
            .id(format!("{prefix}{days}"))
            .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
            .expiration(LifecycleExpiration::builder().days(days).build())
            .status(if enabled {
                ExpirationStatus::Enabled
            } else {
                ExpirationStatus::Disabled
            })
            .build()
            .unwrap()
    }

    #[test]
    fn only_enabled_untagged_rules_over_the_logs_expire_them() {
        let logs = log_prefix(Some("ct/"));
        assert_eq!(logs, "ct/AWSLogs/");
        let rules = [
            rule("tmp/", 1, true),
            rule("ct/AWSLogs/", 400, true),
            rule("", 30, false),
            rule("ct/AWSLogs/123/CloudTrail/", 7, true),
        ];
        assert_eq!(shortest_expiry(&rules, &logs), Some(7));
        assert_eq!(shortest_expiry(&rules[..3], &logs), Some(400));
        let tagged = LifecycleRule::builder()
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(Tag::builder().key("k").value("v").build().unwrap())
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(1).build())
            .status(ExpirationStatus::Enabled)
            .build()
            .unwrap();
        assert_eq!(shortest_expiry(&[tagged], &logs), None);
        assert_eq!(shortest_expiry(&[rule("", 1, true)], &logs), Some(1));
    }
}
