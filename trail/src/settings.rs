//! Every setting of a trail that `UpdateTrail` restores, and how the live trail is weaker
//! than its baseline: a pure judgement of (live, baseline).

use aws_sdk_cloudtrail::operation::update_trail::builders::UpdateTrailFluentBuilder;
use serde_json::Value;

use crate::config::TrailConfig;

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
    pub(crate) fn weakening(&self, was: &SettingValue, now: &SettingValue) -> Option<String> {
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
    pub(crate) fn weakening_of_call(&self, request: &Value) -> Option<String> {
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

impl TrailConfig {
    /// The settings weaker than the baseline's: what `UpdateTrail` restores. A setting made
    /// stronger since (log file validation turned on) is left as it is.
    pub fn weakened(&self, baseline: &Self) -> Vec<&'static Setting> {
        SETTINGS
            .iter()
            .filter(|s| s.weakening(&(s.of)(baseline), &(s.of)(self)).is_some())
            .collect()
    }
}
