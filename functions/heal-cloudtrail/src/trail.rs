//! A trail's configuration, as history keeps it, and how it can be weakened.
//!
//! The configuration is our own serde model rather than the SDK's types, so that a baseline
//! survives SDK upgrades and reads as plain JSON in the history table.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::update_trail::builders::UpdateTrailFluentBuilder;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType, Trail,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bucket::BucketState;
use crate::key::KeyState;

/// Where a trail lives and what it is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailRef {
    pub name: String,
    pub home_region: String,
    pub arn: String,
}

/// An AWS region name: letters, dashes and a final number (`us-east-1`, `us-gov-west-1`).
/// Event data chooses the endpoint a call goes to; anything else is refused.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 12)
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl TrailRef {
    /// Resolves what an event calls a trail: a name (in the region the call was made in,
    /// which for a successful call is the trail's home region) or an ARN (whose region is
    /// the home region).
    pub fn resolve(
        name_or_arn: &str,
        call_region: &str,
        partition: &str,
        account: &str,
    ) -> Option<Self> {
        if let Some(rest) = name_or_arn.strip_prefix("arn:") {
            let mut parts = rest.splitn(5, ':');
            let (_partition, service, region, _account, resource) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            let name = resource.strip_prefix("trail/")?;
            if service != "cloudtrail" || !is_region(region) || !is_trail_name(name) {
                return None;
            }
            return Some(Self {
                name: name.to_owned(),
                home_region: region.to_owned(),
                arn: name_or_arn.to_owned(),
            });
        }
        if !is_trail_name(name_or_arn) || !is_region(call_region) {
            return None;
        }
        Some(Self {
            name: name_or_arn.to_owned(),
            home_region: call_region.to_owned(),
            arn: format!("arn:{partition}:cloudtrail:{call_region}:{account}:trail/{name_or_arn}"),
        })
    }
}

/// CloudTrail's rule for trail names: 3 to 128 letters, digits, `.`, `_` and `-`.
pub fn is_trail_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One classic event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basic {
    pub read_write: String,
    pub management: bool,
    pub data: Vec<(String, Vec<String>)>,
    pub exclude_sources: Vec<String>,
}

/// One field of an advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advanced {
    pub name: Option<String>,
    pub fields: Vec<Field>,
}

/// A trail's event selectors: classic or advanced (a trail has one kind or the other).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selectors {
    pub basic: Vec<Basic>,
    pub advanced: Vec<Advanced>,
}

/// Which management events a trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Selectors {
    pub fn from_sdk(basic: &[EventSelector], advanced: &[AdvancedEventSelector]) -> Self {
        Self {
            basic: basic
                .iter()
                .map(|s| Basic {
                    read_write: s
                        .read_write_type()
                        .map(|r| r.as_str().to_owned())
                        .unwrap_or_else(|| "All".to_owned()),
                    management: s.include_management_events().unwrap_or(true),
                    data: s
                        .data_resources()
                        .iter()
                        .map(|d| {
                            (
                                d.r#type().unwrap_or_default().to_owned(),
                                d.values().to_vec(),
                            )
                        })
                        .collect(),
                    exclude_sources: s.exclude_management_event_sources().to_vec(),
                })
                .collect(),
            advanced: advanced
                .iter()
                .map(|a| Advanced {
                    name: a.name().map(str::to_owned),
                    fields: a
                        .field_selectors()
                        .iter()
                        .map(|f| Field {
                            field: f.field().to_owned(),
                            equals: f.equals().to_vec(),
                            starts_with: f.starts_with().to_vec(),
                            ends_with: f.ends_with().to_vec(),
                            not_equals: f.not_equals().to_vec(),
                            not_starts_with: f.not_starts_with().to_vec(),
                            not_ends_with: f.not_ends_with().to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn to_sdk_basic(&self) -> Vec<EventSelector> {
        self.basic
            .iter()
            .map(|b| {
                EventSelector::builder()
                    .read_write_type(ReadWriteType::from(b.read_write.as_str()))
                    .include_management_events(b.management)
                    .set_data_resources(Some(
                        b.data
                            .iter()
                            .map(|(t, v)| {
                                DataResource::builder()
                                    .r#type(t)
                                    .set_values(Some(v.clone()))
                                    .build()
                            })
                            .collect(),
                    ))
                    .set_exclude_management_event_sources(Some(b.exclude_sources.clone()))
                    .build()
            })
            .collect()
    }

    pub fn to_sdk_advanced(&self) -> Result<Vec<AdvancedEventSelector>, String> {
        self.advanced
            .iter()
            .map(|a| {
                let fields = a
                    .fields
                    .iter()
                    .map(|f| {
                        AdvancedFieldSelector::builder()
                            .field(&f.field)
                            .set_equals(non_empty(&f.equals))
                            .set_starts_with(non_empty(&f.starts_with))
                            .set_ends_with(non_empty(&f.ends_with))
                            .set_not_equals(non_empty(&f.not_equals))
                            .set_not_starts_with(non_empty(&f.not_starts_with))
                            .set_not_ends_with(non_empty(&f.not_ends_with))
                            .build()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                AdvancedEventSelector::builder()
                    .set_name(a.name.clone())
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    /// The management events recorded: read, write, both or none.
    pub fn management(&self) -> BTreeSet<Access> {
        let mut access = BTreeSet::new();
        for b in self.basic.iter().filter(|b| b.management) {
            match b.read_write.as_str() {
                "ReadOnly" => {
                    access.insert(Access::Read);
                }
                "WriteOnly" => {
                    access.insert(Access::Write);
                }
                _ => {
                    access.extend([Access::Read, Access::Write]);
                }
            }
        }
        for a in self.advanced_management() {
            match a
                .fields
                .iter()
                .find(|f| f.field == "readOnly")
                .and_then(|f| f.equals.first())
                .map(String::as_str)
            {
                Some("true") => {
                    access.insert(Access::Read);
                }
                Some("false") => {
                    access.insert(Access::Write);
                }
                _ => {
                    access.extend([Access::Read, Access::Write]);
                }
            }
        }
        access
    }

    fn data_resources(&self) -> BTreeSet<(String, String)> {
        self.basic
            .iter()
            .flat_map(|b| {
                b.data
                    .iter()
                    .flat_map(|(t, vs)| vs.iter().map(move |v| (t.clone(), v.clone())))
            })
            .collect()
    }

    /// The advanced selectors that record management events.
    fn advanced_management(&self) -> impl Iterator<Item = &Advanced> {
        self.advanced.iter().filter(|a| {
            a.fields
                .iter()
                .any(|f| f.field == "eventCategory" && f.equals.iter().any(|v| v == "Management"))
        })
    }

    /// The advanced selectors that record data events (any that is not for management).
    fn advanced_data(&self) -> impl Iterator<Item = &Advanced> {
        let management: Vec<&Advanced> = self.advanced_management().collect();
        self.advanced
            .iter()
            .filter(move |a| !management.contains(a))
    }

    /// The `eventSource` field of an advanced selector.
    fn event_source(a: &Advanced) -> Option<&Field> {
        a.fields.iter().find(|f| f.field == "eventSource")
    }

    /// Event sources whose management events are excluded: by a classic selector's
    /// exclusions, or an advanced selector's `NotEquals`/`NotStartsWith`/`NotEndsWith`.
    fn excluded_sources(&self) -> BTreeSet<&str> {
        let basic = self
            .basic
            .iter()
            .filter(|b| b.management)
            .flat_map(|b| b.exclude_sources.iter().map(String::as_str));
        let advanced = self
            .advanced_management()
            .filter_map(Self::event_source)
            .flat_map(|f| {
                f.not_equals
                    .iter()
                    .chain(&f.not_starts_with)
                    .chain(&f.not_ends_with)
                    .map(String::as_str)
            });
        basic.chain(advanced).collect()
    }

    /// Event sources an advanced selector limits management events to (`Equals`,
    /// `StartsWith`, `EndsWith` on `eventSource`): every other source is left out. Empty
    /// when no selector limits them.
    fn only_sources(&self) -> BTreeSet<&str> {
        self.advanced_management()
            .filter_map(Self::event_source)
            .flat_map(|f| {
                f.equals
                    .iter()
                    .chain(&f.starts_with)
                    .chain(&f.ends_with)
                    .map(String::as_str)
            })
            .collect()
    }
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

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

    /// The settings weaker than the baseline's: what `UpdateTrail` restores. A setting made
    /// stronger since (log file validation turned on) is left as it is.
    pub fn weakened(&self, baseline: &Self) -> Vec<&'static Setting> {
        SETTINGS
            .iter()
            .filter(|s| s.weakening(&(s.of)(baseline), &(s.of)(self)).is_some())
            .collect()
    }
}

/// A setting's value, as the table below reads it from a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    Switch(bool),
    Text(Option<String>),
}

impl SettingValue {
    /// For `UpdateTrail`: an empty string removes a setting the baseline does not have (a
    /// KMS key or a log group the attacker added).
    fn text(self) -> Option<String> {
        match self {
            Self::Text(t) => Some(t.unwrap_or_default()),
            Self::Switch(_) => None,
        }
    }

    fn switch(self) -> Option<bool> {
        match self {
            Self::Switch(on) => Some(on),
            Self::Text(_) => None,
        }
    }
}

/// How a change of a setting is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakens {
    /// Turning it off takes coverage away; turning it on only adds.
    WhenOff,
    /// Any change moves the logs or who hears of them: a weakening until a person accepts it.
    AnyChange,
}

/// One trail setting: compared with the baseline, restored by `UpdateTrail` when it differs,
/// and judged by `weakens`, both on a live trail and on a call that changes it.
#[derive(Debug)]
pub struct Setting {
    /// The `UpdateTrail` request parameter, as CloudTrail records the call.
    pub key: &'static str,
    pub words: &'static str,
    pub weakens: Weakens,
    pub of: fn(&TrailConfig) -> SettingValue,
    /// Puts the setting's baseline value into an `UpdateTrail` call.
    pub restore: fn(UpdateTrailFluentBuilder, SettingValue) -> UpdateTrailFluentBuilder,
}

/// Every setting of a trail, in one place. Logging, the selectors and delivery health are
/// judged apart: each has its own call to restore it.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "s3BucketName",
        words: "destination bucket",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(Some(c.bucket.clone())),
        restore: |b, v| b.set_s3_bucket_name(v.text()),
    },
    Setting {
        key: "s3KeyPrefix",
        words: "bucket prefix",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(c.prefix.clone()),
        restore: |b, v| b.set_s3_key_prefix(v.text()),
    },
    Setting {
        key: "snsTopicName",
        words: "notification topic",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(c.sns_topic.clone()),
        restore: |b, v| b.set_sns_topic_name(v.text()),
    },
    Setting {
        key: "isMultiRegionTrail",
        words: "multi-region",
        weakens: Weakens::WhenOff,
        of: |c| SettingValue::Switch(c.multi_region),
        restore: |b, v| b.set_is_multi_region_trail(v.switch()),
    },
    Setting {
        key: "includeGlobalServiceEvents",
        words: "global service events",
        weakens: Weakens::WhenOff,
        of: |c| SettingValue::Switch(c.global_events),
        restore: |b, v| b.set_include_global_service_events(v.switch()),
    },
    Setting {
        key: "enableLogFileValidation",
        words: "log file validation",
        weakens: Weakens::WhenOff,
        of: |c| SettingValue::Switch(c.log_file_validation),
        restore: |b, v| b.set_enable_log_file_validation(v.switch()),
    },
    Setting {
        key: "isOrganizationTrail",
        words: "organization trail",
        weakens: Weakens::WhenOff,
        of: |c| SettingValue::Switch(c.organization),
        restore: |b, v| b.set_is_organization_trail(v.switch()),
    },
    Setting {
        key: "kmsKeyId",
        words: "KMS key",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(c.kms_key.clone()),
        restore: |b, v| b.set_kms_key_id(v.text()),
    },
    Setting {
        key: "cloudWatchLogsLogGroupArn",
        words: "CloudWatch Logs group",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(c.log_group.clone()),
        restore: |b, v| b.set_cloud_watch_logs_log_group_arn(v.text()),
    },
    Setting {
        key: "cloudWatchLogsRoleArn",
        words: "CloudWatch Logs role",
        weakens: Weakens::AnyChange,
        of: |c| SettingValue::Text(c.log_role.clone()),
        restore: |b, v| b.set_cloud_watch_logs_role_arn(v.text()),
    },
];

impl Setting {
    /// How the change from `was` to `now` weakens the trail, if it does.
    fn weakening(&self, was: &SettingValue, now: &SettingValue) -> Option<String> {
        match (self.weakens, was, now) {
            (Weakens::WhenOff, SettingValue::Switch(true), SettingValue::Switch(false)) => {
                Some(format!("{} turned off", self.words))
            }
            (Weakens::AnyChange, SettingValue::Text(was), SettingValue::Text(now))
                if was != now =>
            {
                Some(format!(
                    "{} changed from {} to {}",
                    self.words,
                    was.as_deref().unwrap_or("none"),
                    now.as_deref().unwrap_or("none")
                ))
            }
            _ => None,
        }
    }

    /// How a call's request parameter weakens the trail, if it does: the call alone says
    /// what the setting becomes, not what it was.
    fn weakening_of_call(&self, request: &Value) -> Option<String> {
        let asked = request.get(self.key)?;
        match self.weakens {
            Weakens::WhenOff => {
                (asked.as_bool() == Some(false)).then(|| format!("{} turned off", self.words))
            }
            Weakens::AnyChange => {
                let value = asked.as_str()?;
                Some(if value.is_empty() {
                    format!("{} removed", self.words)
                } else {
                    format!("{} changed to {value}", self.words)
                })
            }
        }
    }
}

/// How the live trail is weaker than its baseline, in words a person reads. Changes that
/// only add coverage are not weaknesses.
pub fn weaknesses(live: &TrailConfig, baseline: &TrailConfig) -> Vec<String> {
    let mut found = Vec::new();
    if baseline.logging && !live.logging {
        found.push("logging turned off".to_owned());
    }
    found.extend(
        SETTINGS
            .iter()
            .filter_map(|s| s.weakening(&(s.of)(baseline), &(s.of)(live))),
    );
    found.extend(live.selectors.narrower_than(&baseline.selectors));
    if let (Some(now), Some(was)) = (&live.bucket_state, &baseline.bucket_state) {
        found.extend(now.narrower_than(was));
    }
    if let (Some(now), Some(was)) = (&live.key_state, &baseline.key_state) {
        found.extend(now.narrower_than(was));
    }
    if let Some(error) = &live.delivery_error {
        found.push(format!("logs not delivered: {error}"));
    }
    found
}

/// Words for a set of management event kinds.
fn describe(a: &BTreeSet<Access>) -> &'static str {
    match (a.contains(&Access::Read), a.contains(&Access::Write)) {
        (true, true) => "all",
        (true, false) => "read-only",
        (false, true) => "write-only",
        (false, false) => "no",
    }
}

impl Selectors {
    /// One classic selector recording every management event, and nothing else.
    pub fn every_management_event() -> Self {
        Self {
            basic: vec![Basic {
                read_write: "All".to_owned(),
                management: true,
                data: Vec::new(),
                exclude_sources: Vec::new(),
            }],
            advanced: Vec::new(),
        }
    }

    /// How these selectors record less than `baseline`'s: fewer management events, data
    /// resources dropped, event sources excluded or management limited to some sources.
    pub fn narrower_than(&self, baseline: &Self) -> Vec<String> {
        let mut found = Vec::new();
        let (was, now) = (baseline.management(), self.management());
        if !was.is_subset(&now) {
            found.push(format!(
                "management events narrowed from {} to {}",
                describe(&was),
                describe(&now)
            ));
        }
        let missing = baseline
            .data_resources()
            .difference(&self.data_resources())
            .count();
        if missing > 0 {
            found.push(format!("{missing} data event resource(s) dropped"));
        }
        let excluded: Vec<&str> = self
            .excluded_sources()
            .difference(&baseline.excluded_sources())
            .copied()
            .collect();
        if !excluded.is_empty() {
            found.push(format!(
                "management events from {} excluded",
                excluded.join(", ")
            ));
        }
        let dropped = baseline
            .advanced_data()
            .filter(|a| !self.advanced.contains(a))
            .count();
        if dropped > 0 {
            found.push(format!(
                "{dropped} advanced data event selector(s) dropped or changed"
            ));
        }
        let (was, now) = (baseline.only_sources(), self.only_sources());
        if !now.is_empty() && now != was {
            found.push(format!(
                "management events limited to {}",
                now.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        found
    }
}

impl Selectors {
    /// The selectors a `PutEventSelectors` call asks for, from its request parameters.
    pub fn from_request(request: &Value) -> Option<Self> {
        let strings = |v: &Value, key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let basic = request
            .get("eventSelectors")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|s| Basic {
                        read_write: s
                            .get("readWriteType")
                            .and_then(Value::as_str)
                            .unwrap_or("All")
                            .to_owned(),
                        management: s
                            .get("includeManagementEvents")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                        data: s
                            .get("dataResources")
                            .and_then(Value::as_array)
                            .map(|d| {
                                d.iter()
                                    .map(|r| {
                                        (
                                            r.get("type")
                                                .and_then(Value::as_str)
                                                .unwrap_or_default()
                                                .to_owned(),
                                            strings(r, "values"),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        exclude_sources: strings(s, "excludeManagementEventSources"),
                    })
                    .collect()
            });
        let advanced = request
            .get("advancedEventSelectors")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|a| Advanced {
                        name: a.get("name").and_then(Value::as_str).map(str::to_owned),
                        fields: a
                            .get("fieldSelectors")
                            .and_then(Value::as_array)
                            .map(|f| {
                                f.iter()
                                    .map(|f| Field {
                                        field: f
                                            .get("field")
                                            .and_then(Value::as_str)
                                            .unwrap_or_default()
                                            .to_owned(),
                                        equals: strings(f, "equals"),
                                        starts_with: strings(f, "startsWith"),
                                        ends_with: strings(f, "endsWith"),
                                        not_equals: strings(f, "notEquals"),
                                        not_starts_with: strings(f, "notStartsWith"),
                                        not_ends_with: strings(f, "notEndsWith"),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            });
        if basic.is_none() && advanced.is_none() {
            return None;
        }
        Some(Self {
            basic: basic.unwrap_or_default(),
            advanced: advanced.unwrap_or_default(),
        })
    }
}

/// How a CloudTrail API call weakens a trail, judged from the call alone by the same model
/// as [`weaknesses`]: turning coverage off, moving the logs, narrowing or excluding
/// management events. Empty for a call that only adds coverage, such as turning log file
/// validation on. disable-offender counts only calls with a weakening as offenses.
pub fn weakenings_of(event_name: &str, request: &Value) -> Vec<String> {
    match event_name {
        "StopLogging" => vec!["logging turned off".to_owned()],
        "DeleteTrail" => vec!["trail deleted".to_owned()],
        "UpdateTrail" => SETTINGS
            .iter()
            .filter_map(|s| s.weakening_of_call(request))
            .collect(),
        "PutEventSelectors" => match Selectors::from_request(request) {
            None => vec!["event selectors replaced with unreadable ones".to_owned()],
            // Judged against every management event: the call alone does not say what the
            // selectors were. Data events are not judged: adding or dropping them is the
            // owner's choice of cost, seen against the baseline by heal-cloudtrail.
            Some(selectors) => selectors.narrower_than(&Selectors::every_management_event()),
        },
        "DeleteBucket" => vec!["log bucket deleted".to_owned()],
        "DeleteBucketPolicy" => vec!["log bucket policy deleted".to_owned()],
        "PutBucketPolicy" => policy_weakens(request.get("bucketPolicy"), "s3:PutObject")
            .then(|| "log bucket policy no longer lets CloudTrail write".to_owned())
            .into_iter()
            .collect(),
        "PutKeyPolicy" => policy_weakens(request.get("policy"), "kms:GenerateDataKey")
            .then(|| "key policy no longer lets CloudTrail encrypt".to_owned())
            .into_iter()
            .collect(),
        "PutBucketVersioning" => {
            let status = request
                .get("VersioningConfiguration")
                .and_then(|v| v.get("Status"))
                .and_then(Value::as_str);
            (status != Some("Enabled"))
                .then(|| "log bucket versioning suspended".to_owned())
                .into_iter()
                .collect()
        }
        "PutBucketLifecycle" => vec!["log bucket lifecycle rules replaced".to_owned()],
        "PutObjectLockConfiguration" => {
            let rule = request
                .get("ObjectLockConfiguration")
                .and_then(|c| c.get("Rule"));
            rule.is_none()
                .then(|| "log bucket default retention removed".to_owned())
                .into_iter()
                .collect()
        }
        "DisableKey" => vec!["KMS key disabled".to_owned()],
        "ScheduleKeyDeletion" => vec!["KMS key scheduled for deletion".to_owned()],
        // Not a call on a trail's configuration: whoever listed it as an offense meant it.
        other => vec![other.to_owned()],
    }
}

/// Whether a policy a call puts (a JSON document, or its text) no longer lets CloudTrail
/// call `action`, or denies it: judged alone, without the policy it replaces.
fn policy_weakens(policy: Option<&Value>, action: &str) -> bool {
    let parsed = match policy {
        Some(Value::String(text)) => serde_json::from_str(text).ok(),
        Some(doc @ Value::Object(_)) => Some(doc.clone()),
        _ => None,
    };
    let Some(doc) = parsed else {
        return true;
    };
    crate::policy::grants(&doc, crate::policy::CLOUDTRAIL, action).is_empty()
        || crate::policy::denials(&doc, crate::policy::CLOUDTRAIL, action)
            .iter()
            .any(|d| d.get("Condition").is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_weakens_only_when_it_takes_coverage_away() {
        let strengthen = serde_json::json!({"name": "t", "enableLogFileValidation": true, "isMultiRegionTrail": true});
        assert!(weakenings_of("UpdateTrail", &strengthen).is_empty());
        let weaken = serde_json::json!({"name": "t", "isMultiRegionTrail": false, "kmsKeyId": ""});
        assert_eq!(
            weakenings_of("UpdateTrail", &weaken),
            ["multi-region turned off", "KMS key removed"]
        );
        let moved = serde_json::json!({"name": "t", "s3BucketName": "elsewhere"});
        assert_eq!(
            weakenings_of("UpdateTrail", &moved),
            ["destination bucket changed to elsewhere"]
        );
        assert_eq!(
            weakenings_of("StopLogging", &serde_json::json!({})),
            ["logging turned off"]
        );
        let grant = serde_json::json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": "*"});
        let keeps = serde_json::json!({"bucketName": "b", "bucketPolicy": {"Statement": [grant]}});
        assert!(weakenings_of("PutBucketPolicy", &keeps).is_empty());
        let denies = serde_json::json!({"bucketName": "b", "bucketPolicy": {"Statement": [grant,
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}});
        assert_eq!(weakenings_of("PutBucketPolicy", &denies).len(), 1);
        let enabled = serde_json::json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Enabled"}});
        assert!(weakenings_of("PutBucketVersioning", &enabled).is_empty());
        let full = serde_json::json!({"trailName": "t", "eventSelectors": [
            {"readWriteType": "All", "includeManagementEvents": true,
             "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]});
        assert!(weakenings_of("PutEventSelectors", &full).is_empty());
        let narrowed = serde_json::json!({"trailName": "t", "eventSelectors": [
            {"readWriteType": "ReadOnly", "includeManagementEvents": true,
             "excludeManagementEventSources": ["kms.amazonaws.com"]}]});
        assert_eq!(
            weakenings_of("PutEventSelectors", &narrowed),
            [
                "management events narrowed from all to read-only",
                "management events from kms.amazonaws.com excluded"
            ]
        );
    }

    fn all_management() -> Selectors {
        Selectors {
            basic: vec![Basic {
                read_write: "All".into(),
                management: true,
                data: vec![(
                    "AWS::S3::Object".into(),
                    vec!["arn:aws:s3:::secrets/".into()],
                )],
                exclude_sources: vec![],
            }],
            advanced: vec![],
        }
    }

    fn healthy() -> TrailConfig {
        TrailConfig {
            trail: TrailRef::resolve("main", "us-east-1", "aws", "1").unwrap(),
            bucket: "audit-logs".into(),
            prefix: Some("ct".into()),
            sns_topic: None,
            multi_region: true,
            global_events: true,
            log_file_validation: true,
            kms_key: Some("arn:aws:kms:us-east-1:1:key/k".into()),
            log_group: None,
            log_role: None,
            organization: false,
            selectors: all_management(),
            logging: true,
            delivery_error: None,
            bucket_state: None,
            key_state: None,
        }
    }

    #[test]
    fn names_and_arns_resolve_to_the_home_region() {
        let by_name = TrailRef::resolve("main", "eu-west-1", "aws", "123456789012").unwrap();
        assert_eq!(by_name.home_region, "eu-west-1");
        assert_eq!(
            by_name.arn,
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main"
        );
        let by_arn = TrailRef::resolve(
            "arn:aws:cloudtrail:us-west-2:123456789012:trail/org.main_1",
            "eu-west-1",
            "aws",
            "123456789012",
        )
        .unwrap();
        assert_eq!(by_arn.name, "org.main_1");
        assert_eq!(
            by_arn.home_region, "us-west-2",
            "an ARN's region wins over the call's"
        );
        assert!(TrailRef::resolve("arn:aws:s3:::bucket", "us-east-1", "aws", "1").is_none());
        assert!(
            TrailRef::resolve(
                "arn:aws:cloudtrail:evil.example.com:1:trail/x",
                "us-east-1",
                "aws",
                "1"
            )
            .is_none()
        );
        assert!(TrailRef::resolve("a b", "us-east-1", "aws", "1").is_none());
        assert!(TrailRef::resolve("main", "http://x", "aws", "1").is_none());
    }

    #[test]
    fn regions_are_validated() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1.evil.com",
            "localhost:80",
            "-east-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn a_healthy_trail_has_no_weakness() {
        assert!(weaknesses(&healthy(), &healthy()).is_empty());
        // Adding coverage is not a weakness.
        let mut more = healthy();
        more.selectors.basic[0].data.push((
            "AWS::Lambda::Function".into(),
            vec!["arn:aws:lambda".into()],
        ));
        assert!(weaknesses(&more, &healthy()).is_empty());
    }

    #[test]
    fn every_weakening_is_named() {
        let base = healthy();
        let mut live = healthy();
        live.logging = false;
        live.log_file_validation = false;
        live.multi_region = false;
        live.global_events = false;
        live.bucket = "attacker-bucket".into();
        live.kms_key = None;
        live.selectors.basic[0].read_write = "ReadOnly".into();
        live.selectors.basic[0].data.clear();
        live.selectors.basic[0].exclude_sources = vec!["kms.amazonaws.com".into()];
        live.sns_topic = Some("arn:aws:sns:us-east-1:1:attacker".into());
        live.delivery_error = Some("AccessDenied".into());
        let w = weaknesses(&live, &base);
        for expected in [
            "logging turned off",
            "log file validation turned off",
            "multi-region turned off",
            "global service events turned off",
            "destination bucket changed from audit-logs to attacker-bucket",
            "KMS key changed from arn:aws:kms:us-east-1:1:key/k to none",
            "management events narrowed from all to read-only",
            "1 data event resource(s) dropped",
            "management events from kms.amazonaws.com excluded",
            "notification topic changed from none to arn:aws:sns:us-east-1:1:attacker",
            "logs not delivered: AccessDenied",
        ] {
            assert!(
                w.iter().any(|x| x == expected),
                "missing {expected:?} in {w:?}"
            );
        }
        let restored: Vec<&str> = live.weakened(&base).iter().map(|s| s.key).collect();
        assert_eq!(
            restored,
            [
                "s3BucketName",
                "snsTopicName",
                "isMultiRegionTrail",
                "includeGlobalServiceEvents",
                "enableLogFileValidation",
                "kmsKeyId"
            ]
        );
    }

    #[test]
    fn a_notification_topic_changed_alone_is_a_weakness() {
        let mut live = healthy();
        live.sns_topic = Some("arn:aws:sns:us-east-1:1:elsewhere".into());
        assert_eq!(weaknesses(&live, &healthy()).len(), 1);
        let call = serde_json::json!({"name": "t", "snsTopicName": ""});
        assert_eq!(
            weakenings_of("UpdateTrail", &call),
            ["notification topic removed"]
        );
    }

    #[test]
    fn advanced_selectors_that_exclude_or_limit_sources_are_weaker() {
        let management = Field {
            field: "eventCategory".into(),
            equals: vec!["Management".into()],
            starts_with: vec![],
            ends_with: vec![],
            not_equals: vec![],
            not_starts_with: vec![],
            not_ends_with: vec![],
        };
        let source = |equals: Vec<String>, not_equals: Vec<String>| Field {
            field: "eventSource".into(),
            equals,
            not_equals,
            ..management.clone()
        };
        let with = |extra: Option<Field>| Selectors {
            basic: vec![],
            advanced: vec![Advanced {
                name: None,
                fields: std::iter::once(management.clone()).chain(extra).collect(),
            }],
        };
        let all = with(None);
        let without_kms = with(Some(source(vec![], vec!["kms.amazonaws.com".into()])));
        assert_eq!(
            without_kms.narrower_than(&all),
            ["management events from kms.amazonaws.com excluded"]
        );
        let only_s3 = with(Some(source(vec!["s3.amazonaws.com".into()], vec![])));
        assert_eq!(
            only_s3.narrower_than(&all),
            ["management events limited to s3.amazonaws.com"]
        );
        assert!(all.narrower_than(&without_kms).is_empty());
        let call = serde_json::json!({"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": [
            {"field": "eventCategory", "equals": ["Management"]},
            {"field": "eventSource", "notEquals": ["cloudtrail.amazonaws.com"]}]}]});
        assert_eq!(
            weakenings_of("PutEventSelectors", &call),
            ["management events from cloudtrail.amazonaws.com excluded"]
        );
    }

    #[test]
    fn management_coverage_reads_advanced_selectors() {
        let field = |f: &str, v: &str| Field {
            field: f.into(),
            equals: vec![v.into()],
            starts_with: vec![],
            ends_with: vec![],
            not_equals: vec![],
            not_starts_with: vec![],
            not_ends_with: vec![],
        };
        let adv = |fields| Selectors {
            basic: vec![],
            advanced: vec![Advanced { name: None, fields }],
        };
        assert_eq!(
            adv(vec![field("eventCategory", "Management")])
                .management()
                .len(),
            2
        );
        let read_only = adv(vec![
            field("eventCategory", "Management"),
            field("readOnly", "true"),
        ]);
        assert_eq!(
            read_only.management().into_iter().collect::<Vec<_>>(),
            vec![Access::Read]
        );
        assert!(
            adv(vec![field("eventCategory", "Data")])
                .management()
                .is_empty()
        );
        assert_eq!(read_only.to_sdk_advanced().unwrap().len(), 1);
    }

    #[test]
    fn baselines_round_trip_through_json() {
        let c = healthy();
        let back: TrailConfig = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
