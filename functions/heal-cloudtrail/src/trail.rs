//! A trail's configuration, as history keeps it, and how it can be weakened.
//!
//! The configuration is our own serde model rather than the SDK's types, so that a baseline
//! survives SDK upgrades and reads as plain JSON in the history table.

use std::collections::BTreeSet;

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType, Trail,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
        for a in &self.advanced {
            let is_management = a
                .fields
                .iter()
                .any(|f| f.field == "eventCategory" && f.equals.iter().any(|v| v == "Management"));
            if !is_management {
                continue;
            }
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

    fn excluded_sources(&self) -> BTreeSet<&str> {
        self.basic
            .iter()
            .filter(|b| b.management)
            .flat_map(|b| b.exclude_sources.iter().map(String::as_str))
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
}

fn some_nonempty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_owned)
}

impl TrailConfig {
    pub fn from_sdk(
        trail: &Trail,
        fallback: &TrailRef,
        selectors: Selectors,
        logging: bool,
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
            logging,
        }
    }

    /// The configuration part that `UpdateTrail` restores differs from the baseline.
    pub fn settings_differ(&self, baseline: &Self) -> bool {
        (
            &self.bucket,
            &self.prefix,
            &self.sns_topic,
            self.multi_region,
            self.global_events,
            self.log_file_validation,
            &self.kms_key,
            &self.log_group,
            &self.log_role,
        ) != (
            &baseline.bucket,
            &baseline.prefix,
            &baseline.sns_topic,
            baseline.multi_region,
            baseline.global_events,
            baseline.log_file_validation,
            &baseline.kms_key,
            &baseline.log_group,
            &baseline.log_role,
        )
    }
}

/// How the live trail is weaker than its baseline, in words a person reads. Changes that
/// only add coverage are not weaknesses.
pub fn weaknesses(live: &TrailConfig, baseline: &TrailConfig) -> Vec<String> {
    let mut found = Vec::new();
    let mut lost = |was: bool, now: bool, what: &str| {
        if was && !now {
            found.push(format!("{what} turned off"));
        }
    };
    lost(baseline.logging, live.logging, "logging");
    lost(
        baseline.log_file_validation,
        live.log_file_validation,
        "log file validation",
    );
    lost(baseline.multi_region, live.multi_region, "multi-region");
    lost(
        baseline.global_events,
        live.global_events,
        "global service events",
    );
    let mut changed = |was: &Option<String>, now: &Option<String>, what: &str| {
        if was != now {
            found.push(format!(
                "{what} changed from {} to {}",
                was.as_deref().unwrap_or("none"),
                now.as_deref().unwrap_or("none")
            ));
        }
    };
    changed(
        &Some(baseline.bucket.clone()),
        &Some(live.bucket.clone()),
        "destination bucket",
    );
    changed(&baseline.prefix, &live.prefix, "bucket prefix");
    changed(&baseline.kms_key, &live.kms_key, "KMS key");
    changed(
        &baseline.log_group,
        &live.log_group,
        "CloudWatch Logs group",
    );
    changed(&baseline.log_role, &live.log_role, "CloudWatch Logs role");
    let (was, now) = (baseline.selectors.management(), live.selectors.management());
    if !was.is_subset(&now) {
        let describe =
            |a: &BTreeSet<Access>| match (a.contains(&Access::Read), a.contains(&Access::Write)) {
                (true, true) => "all",
                (true, false) => "read-only",
                (false, true) => "write-only",
                (false, false) => "no",
            };
        found.push(format!(
            "management events narrowed from {} to {}",
            describe(&was),
            describe(&now)
        ));
    }
    let missing = baseline
        .selectors
        .data_resources()
        .difference(&live.selectors.data_resources())
        .count();
    if missing > 0 {
        found.push(format!("{missing} data event resource(s) dropped"));
    }
    let excluded: Vec<&str> = live
        .selectors
        .excluded_sources()
        .difference(&baseline.selectors.excluded_sources())
        .copied()
        .collect();
    if !excluded.is_empty() {
        found.push(format!(
            "management events from {} excluded",
            excluded.join(", ")
        ));
    }
    found
}

/// `UpdateTrail` settings whose `false` turns coverage off, with their words.
const SWITCHES: &[(&str, &str)] = &[
    ("enableLogFileValidation", "log file validation"),
    ("isMultiRegionTrail", "multi-region"),
    ("includeGlobalServiceEvents", "global service events"),
    ("isOrganizationTrail", "organization trail"),
];

/// `UpdateTrail` settings that move where logs go: any change is a weakening until the audit
/// accepts it, as [`weaknesses`] judges a live trail against its baseline.
const DESTINATIONS: &[(&str, &str)] = &[
    ("s3BucketName", "destination bucket"),
    ("s3KeyPrefix", "bucket prefix"),
    ("kmsKeyId", "KMS key"),
    ("cloudWatchLogsLogGroupArn", "CloudWatch Logs group"),
    ("cloudWatchLogsRoleArn", "CloudWatch Logs role"),
];

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
        "UpdateTrail" => {
            let mut found: Vec<String> = SWITCHES
                .iter()
                .filter(|(key, _)| request.get(*key).and_then(Value::as_bool) == Some(false))
                .map(|(_, what)| format!("{what} turned off"))
                .collect();
            found.extend(DESTINATIONS.iter().filter_map(|(key, what)| {
                let value = request.get(*key)?.as_str()?;
                Some(if value.is_empty() {
                    format!("{what} removed")
                } else {
                    format!("{what} changed to {value}")
                })
            }));
            found
        }
        "PutEventSelectors" => match Selectors::from_request(request) {
            None => vec!["event selectors replaced with unreadable ones".to_owned()],
            Some(selectors) => {
                let mut found = Vec::new();
                if selectors.management() != BTreeSet::from([Access::Read, Access::Write]) {
                    found.push("management events narrowed".to_owned());
                }
                let excluded: Vec<&str> = selectors.excluded_sources().into_iter().collect();
                if !excluded.is_empty() {
                    found.push(format!(
                        "management events from {} excluded",
                        excluded.join(", ")
                    ));
                }
                found
            }
        },
        // Not a call on a trail's configuration: whoever listed it as an offense meant it.
        other => vec![other.to_owned()],
    }
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
                "management events narrowed",
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
        ] {
            assert!(
                w.iter().any(|x| x == expected),
                "missing {expected:?} in {w:?}"
            );
        }
        assert!(live.settings_differ(&base));
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
