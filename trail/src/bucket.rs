//! A trail's log bucket as history keeps it: still there and this account's, letting
//! CloudTrail write, and keeping what it is given (lifecycle, versioning, Object Lock's
//! default retention); how a live bucket is narrower than its baseline, and what heals it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::{self, CLOUDTRAIL};

/// What CloudTrail calls to deliver a log file.
const DELIVERY: &str = "s3:PutObject";

/// Whether the bucket is there, and whose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    Owned,
    /// It answers, but not as this account's (`ExpectedBucketOwner` refused), or not to
    /// Tourniquet: a deleted bucket's name may have been claimed by someone else.
    NotOwned,
    Missing,
}

/// A log bucket, as far as delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketState {
    pub name: String,
    /// The bucket's region, where every call about it goes.
    pub region: String,
    pub presence: Presence,
    /// The whole policy document: what is put back.
    #[serde(default)]
    pub policy: Option<Value>,
    /// The shortest life an enabled lifecycle rule gives the log files, in days (0: an
    /// expiry date); none: they are kept.
    #[serde(default)]
    pub log_expiry_days: Option<i64>,
    /// `Enabled` or `Suspended`; none: never enabled.
    #[serde(default)]
    pub versioning: Option<String>,
    /// Object Lock's default retention of new log files; none: no default.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// What could not be read. Nothing is compared against a baseline that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Object Lock's default retention: new log files cannot be deleted for `days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// `GOVERNANCE` (some may bypass it) or `COMPLIANCE` (nobody may).
    pub mode: String,
    pub days: i64,
}

impl Retention {
    /// Whether `self` protects less than `was`: shorter, or a mode some may bypass.
    pub(crate) fn weaker_than(this: Option<&Self>, was: Option<&Self>) -> bool {
        match (this, was) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(now), Some(was)) => {
                now.days < was.days || (was.mode == "COMPLIANCE" && now.mode != "COMPLIANCE")
            }
        }
    }
}

/// Where CloudTrail writes under the trail's prefix.
pub fn log_prefix(prefix: Option<&str>) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{}/AWSLogs/", p.trim_end_matches('/')),
        _ => "AWSLogs/".to_owned(),
    }
}

impl BucketState {
    /// How the bucket keeps less than its baseline did, in words a person reads.
    pub fn narrower_than(&self, baseline: &Self) -> Vec<String> {
        if baseline.name != self.name
            || baseline.presence != Presence::Owned
            || baseline.unreadable.is_some()
        {
            return Vec::new();
        }
        let name = &self.name;
        match self.presence {
            Presence::Missing => return vec![format!("log bucket {name} deleted")],
            Presence::NotOwned => {
                return vec![format!(
                    "log bucket {name} is no longer this account's, or hides from Tourniquet: \
                     it may have been deleted and its name claimed by someone else"
                )];
            }
            Presence::Owned => {}
        }
        let mut found = Vec::new();
        if let Some(e) = &self.unreadable {
            found.push(format!("log bucket {name} cannot be read: {e}"));
            return found;
        }
        found.extend(policy::narrower(
            self.policy.as_ref(),
            baseline.policy.as_ref(),
            CLOUDTRAIL,
            DELIVERY,
            &format!("bucket policy of {name}"),
        ));
        if let (true, Some(now)) = (self.expiry_weaker(baseline), self.log_expiry_days) {
            let was = baseline
                .log_expiry_days
                .map(|d| format!("{d} day(s)"))
                .unwrap_or_else(|| "never".to_owned());
            found.push(format!(
                "a lifecycle rule of {name} expires the log files after {now} day(s) (was {was})"
            ));
        }
        if baseline.versioning.as_deref() == Some("Enabled")
            && self.versioning.as_deref() != Some("Enabled")
        {
            found.push(format!("versioning of {name} suspended"));
        }
        if Retention::weaker_than(self.retention.as_ref(), baseline.retention.as_ref()) {
            let now = self
                .retention
                .as_ref()
                .map(|r| format!("{} for {} day(s)", r.mode, r.days))
                .unwrap_or_else(|| "none".to_owned());
            found.push(format!("default retention of {name} weakened (now {now})"));
        }
        found
    }

    fn expiry_weaker(&self, baseline: &Self) -> bool {
        match (baseline.log_expiry_days, self.log_expiry_days) {
            (None, Some(_)) => true,
            (Some(was), Some(now)) => now < was,
            _ => false,
        }
    }

    /// What each heal of this bucket, against its baseline, is.
    pub fn heals(&self, baseline: &Self) -> Vec<BucketHeal> {
        if self.narrower_than(baseline).is_empty() {
            return Vec::new();
        }
        match self.presence {
            Presence::Missing => return vec![BucketHeal::Recreate],
            Presence::NotOwned => return vec![BucketHeal::Unhealable],
            Presence::Owned if self.unreadable.is_some() => return vec![BucketHeal::Unhealable],
            Presence::Owned => {}
        }
        let mut heals = Vec::new();
        let policy_narrower = !policy::narrower(
            self.policy.as_ref(),
            baseline.policy.as_ref(),
            CLOUDTRAIL,
            DELIVERY,
            "",
        )
        .is_empty();
        if policy_narrower {
            heals.push(BucketHeal::Policy);
        }
        if self.expiry_weaker(baseline) {
            heals.push(BucketHeal::Expiry);
        }
        if baseline.versioning.as_deref() == Some("Enabled")
            && self.versioning.as_deref() != Some("Enabled")
        {
            heals.push(BucketHeal::Versioning);
        }
        if Retention::weaker_than(self.retention.as_ref(), baseline.retention.as_ref()) {
            heals.push(BucketHeal::Retention);
        }
        heals
    }
}

/// One way of putting the bucket back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketHeal {
    /// Deleted: claim the name again at once, with the baseline's policy and versioning.
    Recreate,
    Policy,
    /// Remove the rules that expire the log files sooner than the baseline's.
    Expiry,
    Versioning,
    /// Object Lock's default retention, as the baseline had it.
    Retention,
    /// Someone else's now, or hidden: a person must act.
    Unhealable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned() -> BucketState {
        BucketState {
            name: "audit".into(),
            region: "us-east-1".into(),
            presence: Presence::Owned,
            policy: None,
            log_expiry_days: Some(365),
            versioning: Some("Enabled".into()),
            retention: Some(Retention {
                mode: "COMPLIANCE".into(),
                days: 365,
            }),
            unreadable: None,
        }
    }

    #[test]
    fn each_weakening_has_its_heal() {
        let base = owned();
        assert!(base.heals(&base).is_empty());
        let mut live = owned();
        live.log_expiry_days = Some(1);
        live.versioning = Some("Suspended".into());
        live.retention = Some(Retention {
            mode: "GOVERNANCE".into(),
            days: 365,
        });
        assert_eq!(
            live.heals(&base),
            [
                BucketHeal::Expiry,
                BucketHeal::Versioning,
                BucketHeal::Retention
            ]
        );
        live.presence = Presence::Missing;
        assert_eq!(live.heals(&base), [BucketHeal::Recreate]);
        live.presence = Presence::NotOwned;
        assert_eq!(live.heals(&base), [BucketHeal::Unhealable]);
        let mut longer = owned();
        longer.log_expiry_days = None;
        assert!(
            longer.heals(&base).is_empty(),
            "keeping logs longer is no weakening"
        );
        let mut unknown = owned();
        unknown.unreadable = Some("AccessDenied".into());
        assert!(
            live.heals(&unknown).is_empty(),
            "nothing is judged against an unreadable baseline"
        );
    }
}
