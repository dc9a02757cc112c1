//! A trail's log bucket: still there and this account's, letting CloudTrail write, and
//! keeping what it is given (lifecycle, versioning, Object Lock's default retention). A trail
//! can say "logging" while every one of these is gone.
//!
//! Read here; put back by `restore`.

mod restore;

use aws_config::{Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{ExpirationStatus, LifecycleRule, ObjectLockRule};
use serde_json::Value;
use tourniquet::errors::sdk_message;

pub use restore::heal;
pub use tourniquet_trail::bucket::log_prefix;
use tourniquet_trail::bucket::{BucketState, Presence, Retention};

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
    let Some(s3) = locate(sdk, home, name, owner, &mut state).await? else {
        return Ok(state);
    };
    state.presence = Presence::Owned;
    let (policy, lifecycle, versioning, lock) = tokio::join!(
        read_policy(&s3, name, owner),
        read_expiry(&s3, name, logs, owner),
        read_versioning(&s3, name, owner),
        read_retention(&s3, name, owner),
    );
    let mut unreadable = Vec::new();
    match policy {
        Ok(policy) => state.policy = policy,
        Err(e) => unreadable.push(e),
    }
    match lifecycle {
        Ok(days) => state.log_expiry_days = days,
        Err(e) => unreadable.push(e),
    }
    match versioning {
        Ok(status) => state.versioning = status,
        Err(e) => unreadable.push(e),
    }
    match lock {
        Ok(retention) => state.retention = retention,
        Err(e) => unreadable.push(e),
    }
    if !unreadable.is_empty() {
        state.unreadable = Some(unreadable.join("; "));
    }
    Ok(state)
}

/// `HeadBucket`: whether the bucket is there and this account's (`state.presence`), and in
/// which region (`state.region`). A client for that region when it is this account's; `None`
/// when it is missing or another's.
async fn locate(
    sdk: &SdkConfig,
    home: &Client,
    name: &str,
    owner: &str,
    state: &mut BucketState,
) -> Result<Option<Client>, String> {
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
            return Ok(None);
        }
    }
    Ok(Some(s3))
}

/// The bucket's policy (`None`: it has none); the error says why it cannot be read.
async fn read_policy(s3: &Client, name: &str, owner: &str) -> Result<Option<Value>, String> {
    let policy = s3
        .get_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await;
    match policy {
        Ok(out) => match out.policy().map(serde_json::from_str::<Value>) {
            Some(Ok(doc)) => Ok(Some(doc)),
            Some(Err(e)) => Err(format!("the bucket policy is not JSON: {e}")),
            None => Ok(None),
        },
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => Ok(None),
        Err(e) => Err(format!("GetBucketPolicy: {}", sdk_message(&e))),
    }
}

/// After how many days the lifecycle rules expire the log files soonest (`None`: never).
async fn read_expiry(
    s3: &Client,
    name: &str,
    logs: &str,
    owner: &str,
) -> Result<Option<i64>, String> {
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await;
    match lifecycle {
        Ok(out) => Ok(shortest_expiry(out.rules(), logs)),
        Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => Ok(None),
        Err(e) => Err(format!(
            "GetBucketLifecycleConfiguration: {}",
            sdk_message(&e)
        )),
    }
}

/// The bucket's versioning status, as S3 names it (`None`: never enabled).
async fn read_versioning(s3: &Client, name: &str, owner: &str) -> Result<Option<String>, String> {
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await;
    match versioning {
        Ok(out) => Ok(out.status().map(|s| s.as_str().to_owned())),
        Err(e) => Err(format!("GetBucketVersioning: {}", sdk_message(&e))),
    }
}

/// Object Lock's default retention of the bucket (`None`: none).
async fn read_retention(s3: &Client, name: &str, owner: &str) -> Result<Option<Retention>, String> {
    let lock = s3
        .get_object_lock_configuration()
        .bucket(name)
        .expected_bucket_owner(owner)
        .send()
        .await;
    match lock {
        Ok(out) => Ok(retention_of(
            out.object_lock_configuration().and_then(|c| c.rule()),
        )),
        Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => Ok(None),
        Err(e) => Err(format!("GetObjectLockConfiguration: {}", sdk_message(&e))),
    }
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
