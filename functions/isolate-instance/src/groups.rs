//! Tourniquet's own security groups, per VPC: known from its own history, never by name.
//!
//! Anyone allowed `ec2:CreateSecurityGroup` can create a group called
//! `tourniquet-quarantine` with SSH open to the world, and anyone can tag one. So a group is
//! Tourniquet's only when history records that Tourniquet created it in that VPC. A
//! same-named group that is not is never used, and is reported; the quarantine group is
//! checked rule-less on every use, and any rule found is revoked and reported. All of it is
//! read in the first round (one history query, one describe by name prefix) and costs no
//! dependent round trip unless something is wrong.

mod ready;

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, SecurityGroup};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tourniquet::errors::sdk_message;
use tourniquet::history::{History, HistoryError};

use crate::network;

pub use ready::{ensure, prepare};

/// The history kind under which each VPC's groups are recorded.
pub const HISTORY_KIND: &str = "quarantine-groups";
/// The history kind under which the sweep notes when it first saw a stray group: a group
/// tagged as Tourniquet's that no record names. The time is history's own, never a tag's.
pub const STRAY_KIND: &str = "quarantine-strays";

/// History's records of the groups of one account and region. Elsewhere than the
/// function's own account and region a VPC is recorded under its ARN, so that the one table
/// names the account and region; at home under its id, as always.
#[derive(Debug, Clone)]
pub struct Records {
    history: History,
    /// `arn:<partition>:ec2:<region>:<account>:vpc/`, away from home.
    prefix: Option<String>,
}

impl Records {
    pub fn new(history: History, prefix: Option<String>) -> Self {
        Self { history, prefix }
    }

    fn key(&self, vpc: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}{vpc}"),
            None => vpc.to_owned(),
        }
    }

    /// Every VPC's record in this account and region, by VPC id.
    pub async fn all(&self) -> Result<Vec<(String, Value)>, HistoryError> {
        let records = self.history.baselines(HISTORY_KIND).await?;
        Ok(records
            .into_iter()
            .filter_map(|(key, v)| match &self.prefix {
                Some(p) => Some((key.strip_prefix(p.as_str())?.to_owned(), v)),
                None => (!key.starts_with("arn:")).then_some((key, v)),
            })
            .collect())
    }

    /// When the sweep first saw each stray group, by group id (epoch ms).
    pub async fn strays_seen(&self) -> Result<BTreeMap<String, u64>, HistoryError> {
        let records = self.history.baselines(STRAY_KIND).await?;
        Ok(records
            .into_iter()
            .filter_map(|(key, v)| {
                let id = match &self.prefix {
                    Some(p) => key.strip_prefix(p.as_str())?.to_owned(),
                    None => (!key.starts_with("arn:")).then_some(key)?,
                };
                Some((id, v.get("first_seen_ms")?.as_u64()?))
            })
            .collect())
    }

    /// Notes the first time the sweep saw a stray group.
    pub async fn saw_stray(&self, id: &str, at_ms: u64) -> Result<(), HistoryError> {
        let record = serde_json::json!({"first_seen_ms": at_ms});
        let key = self.key(id);
        (self.history)
            .put_baseline_once(STRAY_KIND, &key, &record, SystemTime::now())
            .await
            .map(|_| ())
    }

    async fn get(&self, vpc: &str) -> Result<Option<Value>, HistoryError> {
        self.history.baseline(HISTORY_KIND, &self.key(vpc)).await
    }

    /// Records the VPC's groups; `replace` false: only if none is recorded, else the one
    /// recorded first is answered.
    async fn put(
        &self,
        vpc: &str,
        record: &Value,
        replace: bool,
    ) -> Result<Option<Value>, HistoryError> {
        let now = SystemTime::now();
        let key = self.key(vpc);
        if replace {
            self.history
                .put_baseline(HISTORY_KIND, &key, record, now)
                .await
                .map(|()| None)
        } else {
            self.history
                .put_baseline_once(HISTORY_KIND, &key, record, now)
                .await
        }
    }
}

/// The groups Tourniquet created in one VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub quarantine: String,
    pub allow_all: String,
}

/// A live group whose name starts with the quarantine group's name.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveGroup {
    pub id: String,
    pub name: String,
    pub vpc: String,
    pub ingress: Vec<IpPermission>,
    pub egress: Vec<IpPermission>,
    /// Carries Tourniquet's purpose tag. Anyone can forge a tag, so this never makes a group
    /// trusted; it only marks one that is probably another invocation's, created a moment
    /// ago and about to be recorded or removed.
    pub tagged: bool,
    /// Its purpose and the incident that made it, as tagged when it was created.
    pub purpose: Option<String>,
    pub incident: Option<String>,
}

impl LiveGroup {
    pub fn from_sdk(g: &SecurityGroup) -> Option<Self> {
        Some(Self {
            id: g.group_id()?.to_owned(),
            name: g.group_name()?.to_owned(),
            vpc: g.vpc_id()?.to_owned(),
            ingress: g.ip_permissions().to_vec(),
            egress: g.ip_permissions_egress().to_vec(),
            tagged: g
                .tags()
                .iter()
                .any(|t| t.key() == Some(network::PURPOSE_TAG)),
            purpose: tag_of(g, network::PURPOSE_TAG),
            incident: tag_of(g, network::INCIDENT_TAG),
        })
    }
}

fn tag_of(g: &SecurityGroup, key: &str) -> Option<String> {
    g.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_owned)
}

/// What the first round knows: history's records and the live groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    pub owned: BTreeMap<String, Owned>,
    pub live: Vec<LiveGroup>,
}

impl Known {
    /// From the live groups and history's records; an unreadable record is not trusted.
    pub fn new(live: Vec<LiveGroup>, records: Vec<(String, Value)>) -> Self {
        let owned = records
            .into_iter()
            .filter_map(|(vpc, v)| Some((vpc, serde_json::from_value(v).ok()?)))
            .collect();
        Self { owned, live }
    }

    fn live(&self, id: &str) -> Option<&LiveGroup> {
        self.live.iter().find(|g| g.id == id)
    }

    /// The VPC's quarantine group, if Tourniquet created it and it still exists.
    pub fn quarantine(&self, vpc: &str) -> Option<&LiveGroup> {
        self.owned.get(vpc).and_then(|o| self.live(&o.quarantine))
    }

    /// The VPC's groups, if both exist as Tourniquet recorded them.
    pub fn groups(&self, vpc: &str) -> Option<&Owned> {
        self.owned
            .get(vpc)
            .filter(|o| self.live(&o.quarantine).is_some() && self.live(&o.allow_all).is_some())
    }

    /// The pair an incident made in the VPC and never recorded (it died first): exactly one
    /// group of each purpose, tagged with the incident. More than one of a kind is never
    /// adopted: someone copied the tags.
    pub fn made_by(&self, vpc: &str, incident: &str) -> Option<Owned> {
        let recorded = self.owned.get(vpc);
        let unrecorded = |purpose: &str| -> Vec<&LiveGroup> {
            self.live
                .iter()
                .filter(|g| g.vpc == vpc && g.incident.as_deref() == Some(incident))
                .filter(|g| g.purpose.as_deref() == Some(purpose))
                .filter(|g| recorded.is_none_or(|o| g.id != o.quarantine && g.id != o.allow_all))
                .collect()
        };
        match (
            unrecorded(network::QUARANTINE).as_slice(),
            unrecorded(network::ALLOW_ALL).as_slice(),
        ) {
            ([q], [a]) => Some(Owned {
                quarantine: q.id.clone(),
                allow_all: a.id.clone(),
            }),
            _ => None,
        }
    }

    /// Groups tagged as made by Tourniquet (purpose and incident) that no record names, in
    /// any VPC: what a dead invocation left, unless its retry adopts them.
    pub fn strays(&self) -> Vec<&LiveGroup> {
        let recorded = |id: &str| {
            self.owned
                .values()
                .any(|o| o.quarantine == id || o.allow_all == id)
        };
        self.live
            .iter()
            .filter(|g| g.purpose.is_some() && g.incident.is_some() && !recorded(&g.id))
            .collect()
    }

    /// Groups in the VPC that carry Tourniquet's names but that Tourniquet did not record, and
    /// that do not even pretend to be Tourniquet's: reported. None of the unrecorded ones is
    /// ever used.
    pub fn impostors(&self, vpc: &str) -> Vec<&LiveGroup> {
        let owned = self.owned.get(vpc);
        self.live
            .iter()
            .filter(|g| g.vpc == vpc && !g.tagged)
            .filter(|g| owned.is_none_or(|o| g.id != o.quarantine && g.id != o.allow_all))
            .collect()
    }
}

/// The live groups whose names start with `prefix` (Tourniquet's names): one request.
pub async fn live(ec2: &Client, prefix: &str) -> Result<Vec<LiveGroup>, String> {
    let out = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{prefix}*"))
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("DescribeSecurityGroups {prefix}*: {}", sdk_message(&e)))?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(LiveGroup::from_sdk)
        .collect())
}
