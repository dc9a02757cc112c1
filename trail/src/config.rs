//! Everything a trail is, as far as healing goes, read from `DescribeTrails`,
//! `GetTrailStatus` and the selectors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::types::Trail;
use serde::{Deserialize, Serialize};

use crate::bucket::BucketState;
use crate::key::KeyState;
use crate::name::TrailRef;
use crate::selectors::Selectors;

/// Everything a trail is, as far as healing goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailConfig {
    pub trail: TrailRef,
    pub bucket: String,
    pub prefix: Option<String>,
    /// The notification topic, by ARN (`UpdateTrail` takes a name or an ARN).
    pub sns_topic: Option<String>,
    pub multi_region: bool,
    pub global_events: bool,
    pub log_file_validation: bool,
    pub kms_key: Option<String>,
    pub log_group: Option<String>,
    pub log_role: Option<String>,
    pub organization: bool,
    pub selectors: Selectors,
    pub logging: bool,
    /// The S3 error CloudTrail last met delivering this trail's logs (`LatestDeliveryError`):
    /// a trail that logs but cannot deliver keeps nothing. Live health, never part of a
    /// baseline: a trail with one is not healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
    /// The log bucket, read beside the trail (none: not read, as in a baseline written
    /// before buckets were).
    #[serde(default)]
    pub bucket_state: Option<BucketState>,
    /// The KMS key, when the trail has one.
    #[serde(default)]
    pub key_state: Option<KeyState>,
}

/// A delivery error older than the latest successful delivery by this much is taken as past:
/// CloudTrail delivers every few minutes while anything is logged.
const DELIVERY_GRACE: Duration = Duration::from_secs(3600);

/// Whether CloudTrail delivered within `grace` before `now`: `LatestDeliveryError` stays
/// set after a recovery, and the API no longer says when the error happened.
fn delivered_since(
    latest: Option<&aws_sdk_cloudtrail::primitives::DateTime>,
    now: SystemTime,
    grace: Duration,
) -> bool {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    latest.is_some_and(|t| now.saturating_sub(t.secs()) <= grace)
}

fn some_nonempty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_owned)
}

impl TrailConfig {
    pub fn from_sdk(
        trail: &Trail,
        fallback: &TrailRef,
        selectors: Selectors,
        status: &GetTrailStatusOutput,
        now: SystemTime,
    ) -> Self {
        Self {
            trail: TrailRef {
                name: trail.name().unwrap_or(&fallback.name).to_owned(),
                home_region: trail
                    .home_region()
                    .unwrap_or(&fallback.home_region)
                    .to_owned(),
                arn: trail.trail_arn().unwrap_or(&fallback.arn).to_owned(),
            },
            bucket: trail.s3_bucket_name().unwrap_or_default().to_owned(),
            prefix: some_nonempty(trail.s3_key_prefix()),
            sns_topic: some_nonempty(trail.sns_topic_arn()),
            multi_region: trail.is_multi_region_trail().unwrap_or(false),
            global_events: trail.include_global_service_events().unwrap_or(false),
            log_file_validation: trail.log_file_validation_enabled().unwrap_or(false),
            kms_key: some_nonempty(trail.kms_key_id()),
            log_group: some_nonempty(trail.cloud_watch_logs_log_group_arn()),
            log_role: some_nonempty(trail.cloud_watch_logs_role_arn()),
            organization: trail.is_organization_trail().unwrap_or(false),
            selectors,
            logging: status.is_logging().unwrap_or(false),
            delivery_error: some_nonempty(status.latest_delivery_error())
                .filter(|_| !delivered_since(status.latest_delivery_time(), now, DELIVERY_GRACE)),
            bucket_state: None,
            key_state: None,
        }
    }
}
