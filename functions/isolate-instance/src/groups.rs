//! Tourniquet's own security groups, per VPC: known from its own history, never by name.
//!
//! Anyone allowed `ec2:CreateSecurityGroup` can create a group called
//! `tourniquet-quarantine` with SSH open to the world, and anyone can tag one. So a group is
//! Tourniquet's only when history records that Tourniquet created it in that VPC. A
//! same-named group that is not is never used, and is reported; the quarantine group is
//! checked rule-less on every use, and any rule found is revoked and reported. All of it is
//! read in the first round (one history query, one describe by name prefix) and costs no
//! dependent round trip unless something is wrong.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, SecurityGroup};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tourniquet::Step;
use tourniquet::errors::sdk_message;
use tourniquet::history::{History, HistoryError};

use crate::network::{self, Groups};

/// The step that reports a same-named group Tourniquet did not make.
const IMPOSTOR_STEP: &str = "impostor-group";

/// The history kind under which each VPC's groups are recorded.
pub const HISTORY_KIND: &str = "quarantine-groups";

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
        })
    }
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

/// The configured name with a suffix no concurrent invocation picks too: the time, mixed
/// with the per-process random keys of the standard hasher.
fn suffixed(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    format!("{name}-{:08x}", h.finish() & 0xffff_ffff)
}

/// Revokes every rule of the quarantine group: someone added them.
async fn strip(ec2: &Client, g: &LiveGroup) -> Step {
    let name = "quarantine-group-tampered";
    let count = g.ingress.len() + g.egress.len();
    let ingress = async {
        if g.ingress.is_empty() {
            return Ok(());
        }
        ec2.revoke_security_group_ingress()
            .group_id(&g.id)
            .set_ip_permissions(Some(g.ingress.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    };
    let egress = async {
        if g.egress.is_empty() {
            return Ok(());
        }
        ec2.revoke_security_group_egress()
            .group_id(&g.id)
            .set_ip_permissions(Some(g.egress.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    };
    match tokio::try_join!(ingress, egress) {
        Ok(_) => Step::critical(
            name,
            format!(
                "{count} rule(s) found on quarantine group {} and revoked: someone tampered with \
                 it, and every instance quarantined in it may have been reachable",
                g.id
            ),
        ),
        Err(e) => Step::critical(
            name,
            format!(
                "{count} rule(s) found on quarantine group {} and NOT all revoked ({e}): \
                 quarantined instances may be reachable",
                g.id
            ),
        ),
    }
}

/// Creates the VPC's two groups under names nobody holds, and records them; when another
/// invocation recorded its own first, those are used and ours deleted.
async fn create(
    ec2: &Client,
    history: &Records,
    vpc: &str,
    names: (&str, &str),
    replace: bool,
) -> Result<Owned, String> {
    let (quarantine, allow_all) = tokio::join!(
        network::quarantine_group(ec2, names.0, vpc, || suffixed(names.0)),
        network::allow_all_group(ec2, names.1, vpc, || suffixed(names.1)),
    );
    let created = Owned {
        quarantine: quarantine?,
        allow_all: allow_all?,
    };
    let record = json!(created);
    match history.put(vpc, &record, replace).await {
        Ok(None) => Ok(created),
        Ok(Some(winner)) => {
            let winner: Owned = serde_json::from_value(winner)
                .map_err(|e| format!("the recorded groups of {vpc} are unreadable: {e}"))?;
            for id in [&created.quarantine, &created.allow_all] {
                if let Err(e) = ec2.delete_security_group().group_id(id).send().await {
                    tracing::warn!(group = %id, error = %sdk_message(&e), "could not delete a spare group");
                }
            }
            Ok(winner)
        }
        Err(e) => Err(format!("cannot record the groups created in {vpc}: {e}")),
    }
}

/// Groups another invocation recorded for the VPC since the first round read history (the
/// first isolations in a new VPC often come together): used instead of making more.
async fn recorded_since(history: &Records, known: &Known, vpc: &str) -> Option<Owned> {
    let record = history.get(vpc).await.ok()??;
    let owned: Owned = serde_json::from_value(record).ok()?;
    (known.owned.get(vpc) != Some(&owned)).then_some(owned)
}

/// The VPC's two groups, ready: Tourniquet's own, the quarantine one rule-less. The steps
/// report what was wrong (impostors, tampering), each CRITICAL.
pub async fn ensure(
    ec2: &Client,
    history: &Records,
    known: &Known,
    vpc: &str,
    names: (&str, &str),
) -> (Result<Groups, String>, Vec<Step>) {
    let mut steps: Vec<Step> = known
        .impostors(vpc)
        .into_iter()
        .map(|g| {
            Step::critical(
                IMPOSTOR_STEP,
                format!(
                    "{} \"{}\" in {vpc} carries Tourniquet's name but Tourniquet did not create \
                     it: never used; find who created it",
                    g.id, g.name
                ),
            )
        })
        .collect();
    // With no record at all, the conditional write of the new record settles a race with a
    // concurrent creator, so history is not read again first: one round trip fewer on the
    // first isolation in a VPC the sweep has not prepared yet.
    let recorded = known.owned.contains_key(vpc);
    let owned = match known.groups(vpc) {
        Some(o) => Ok(o.clone()),
        None if !recorded => create(ec2, history, vpc, names, false).await,
        None => match recorded_since(history, known, vpc).await {
            Some(o) => Ok(o),
            None => create(ec2, history, vpc, names, true).await,
        },
    };
    let owned = match owned {
        Ok(o) => o,
        Err(e) => return (Err(e), steps),
    };
    if let Some(q) = known.quarantine(vpc)
        && q.id == owned.quarantine
        && !(q.ingress.is_empty() && q.egress.is_empty())
    {
        steps.push(strip(ec2, q).await);
    }
    let groups = Groups {
        allow_all: Ok(owned.allow_all),
        quarantine: owned.quarantine,
    };
    (Ok(groups), steps)
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

/// Every VPC of the region, new ones included.
async fn vpcs(ec2: &Client) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let out = ec2
            .describe_vpcs()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("DescribeVpcs: {}", sdk_message(&e)))?;
        ids.extend(
            out.vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(str::to_owned)),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(ids),
        }
    }
}

/// Ahead of time, on the periodic sweep: every VPC's two groups exist, are recorded as
/// Tourniquet's own and the quarantine one is rule-less, so that the first isolation in a
/// VPC finds them in its first round instead of creating them on the critical path. A VPC
/// already ready costs no request beyond the three reads; impostors are reported by the
/// isolations that would have used them, not every five minutes.
pub async fn prepare(ec2: &Client, history: &Records, names: (&str, &str)) -> Vec<Step> {
    let (vpcs, live, records) = tokio::join!(vpcs(ec2), live(ec2, names.0), history.all());
    let (vpcs, live, records) = match (vpcs, live, records) {
        (Ok(v), Ok(l), Ok(r)) => (v, l, r),
        (Err(e), _, _) | (_, Err(e), _) => return vec![Step::failed("prepare-groups", e)],
        (_, _, Err(e)) => return vec![Step::failed("prepare-groups", e.to_string())],
    };
    let known = Known::new(live, records);
    let per_vpc = futures_util::future::join_all(vpcs.iter().map(|vpc| {
        let known = &known;
        async move {
            let ready = known.groups(vpc).is_some();
            let (groups, steps) = ensure(ec2, history, known, vpc, names).await;
            let mut steps: Vec<Step> = steps
                .into_iter()
                .filter(|s| s.name != IMPOSTOR_STEP)
                .collect();
            let name = format!("prepare {vpc}");
            match groups {
                Ok(g) if !ready => steps.push(Step::ok(
                    name,
                    format!(
                        "quarantine {} and allow-all {} ready",
                        g.quarantine,
                        g.allow_all.unwrap_or_default()
                    ),
                )),
                Ok(_) => {}
                Err(e) => steps.push(Step::failed(name, e)),
            }
            steps
        }
    }))
    .await;
    per_vpc.into_iter().flatten().collect()
}
