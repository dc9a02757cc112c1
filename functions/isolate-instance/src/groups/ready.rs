//! The VPC's two groups made ready: found as Tourniquet recorded them, or created and
//! recorded, the quarantine one stripped of any rule someone added; on the sweep, in every VPC
//! ahead of time.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ec2::Client;
use serde_json::json;
use tourniquet::Step;
use tourniquet::errors::sdk_message;

use super::{Known, LiveGroup, Owned, Records, live};
use crate::network::{self, Groups};

/// The incident tag of the groups the sweep makes ahead of time: a sweep that died before
/// recording them has the next adopt them.
const PREPARE: &str = "prepare";

/// The step that reports a stray group, and how long one is left for its incident's retry.
const STRAY_STEP: &str = "stray-group";
const STRAY_AGE_MS: u64 = 3_600_000;

/// The step that reports a same-named group Tourniquet did not make.
const IMPOSTOR_STEP: &str = "impostor-group";

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

/// Creates the VPC's two groups under names nobody holds, tagged with the incident that
/// makes them, and records them.
async fn create(
    ec2: &Client,
    history: &Records,
    (vpc, incident): (&str, &str),
    names: (&str, &str),
    replace: bool,
) -> Result<Owned, String> {
    let (quarantine, allow_all) = tokio::join!(
        network::quarantine_group(ec2, names.0, (vpc, incident), || suffixed(names.0)),
        network::allow_all_group(ec2, names.1, (vpc, incident), || suffixed(names.1)),
    );
    let created = Owned {
        quarantine: quarantine?,
        allow_all: allow_all?,
    };
    record(ec2, history, vpc, created, replace).await
}

/// The groups an incident made before it died, adopted: the quarantine one sealed (every
/// rule revoked, read back rule-less), the allow-all one given its rules, both recorded.
async fn adopt(
    ec2: &Client,
    history: &Records,
    vpc: &str,
    made: Owned,
    replace: bool,
) -> Result<Owned, String> {
    let (sealed, opened) = tokio::join!(
        network::seal(ec2, &made.quarantine, true),
        network::open_all(ec2, &made.allow_all)
    );
    sealed?;
    opened?;
    record(ec2, history, vpc, made, replace).await
}

/// Records the VPC's groups; when another invocation recorded its own first, those are used
/// and ours deleted.
async fn record(
    ec2: &Client,
    history: &Records,
    vpc: &str,
    created: Owned,
    replace: bool,
) -> Result<Owned, String> {
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
    (vpc, incident): (&str, &str),
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
    let owned = match (known.groups(vpc), known.made_by(vpc, incident)) {
        (Some(o), _) => Ok(o.clone()),
        (None, Some(made)) => adopt(ec2, history, vpc, made, recorded).await,
        (None, None) if !recorded => create(ec2, history, (vpc, incident), names, false).await,
        (None, None) => match recorded_since(history, known, vpc).await {
            Some(o) => Ok(o),
            None => create(ec2, history, (vpc, incident), names, true).await,
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
    let strays = clear_strays(ec2, history, &known);
    let per_vpc = futures_util::future::join_all(vpcs.iter().map(|vpc| {
        let known = &known;
        async move {
            let ready = known.groups(vpc).is_some();
            let (groups, steps) = ensure(ec2, history, known, (vpc, PREPARE), names).await;
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
    let mut steps: Vec<Step> = per_vpc.into_iter().flatten().collect();
    steps.extend(strays.await);
    steps
}

/// A stray group (tagged as Tourniquet's, named by no record) is left an hour for its
/// incident's retry to adopt; after that the sweep deletes it and says so. One in use cannot
/// be deleted, and wakes a human: an instance sits in a group Tourniquet does not know.
async fn clear_strays(ec2: &Client, history: &Records, known: &Known) -> Vec<Step> {
    let strays = known.strays();
    if strays.is_empty() {
        return Vec::new();
    }
    let seen = match history.strays_seen().await {
        Ok(seen) => seen,
        Err(e) => return vec![Step::failed(STRAY_STEP, e.to_string())],
    };
    let now = tourniquet::time::epoch_millis(SystemTime::now());
    let cutoff = now.saturating_sub(STRAY_AGE_MS);
    let seen = &seen;
    let handled = strays.into_iter().map(|g| async move {
        match seen.get(&g.id) {
            None => history
                .saw_stray(&g.id, now)
                .await
                .err()
                .map(|e| Step::failed(STRAY_STEP, e.to_string())),
            Some(first) if *first <= cutoff => Some(delete_stray(ec2, g).await),
            Some(_) => None,
        }
    });
    futures_util::future::join_all(handled)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn delete_stray(ec2: &Client, g: &LiveGroup) -> Step {
    let what = format!(
        "{} \"{}\" in {}, made by incident {} and never recorded",
        g.id,
        g.name,
        g.vpc,
        g.incident.as_deref().unwrap_or("?")
    );
    match ec2.delete_security_group().group_id(&g.id).send().await {
        Ok(_) => Step::ok(STRAY_STEP, format!("{what}: deleted after an hour")),
        Err(e) => Step::critical(
            STRAY_STEP,
            format!(
                "{what}: NOT deleted ({}); if an instance is in it, it is in a group \
                 Tourniquet does not keep",
                sdk_message(&e)
            ),
        ),
    }
}
