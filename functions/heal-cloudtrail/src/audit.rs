//! The daily audit: every trail homed in this region, live or known from a baseline (a
//! deleted trail), and every event data store, of each account acted in. Each is then
//! verified like a trail an event names; a healthy one's configuration becomes its baseline.

use futures_util::future::join_all;
use serde_json::Value;
use tourniquet::Unavailable;
use tourniquet::errors::AwsError;
use tourniquet::history::History;
use tourniquet::members::Scope;
use tourniquet::{Case, Intake, IntakeError};
use tourniquet_trail::{TrailConfig, TrailRef, touched};

use tourniquet::members::PerScope;

use crate::clients::Clients;
use crate::store;
use crate::trail::BASELINE;
use crate::watched::Watched;

/// Every trail homed in this region, live or known from a baseline (a deleted trail), and
/// every event data store: of this account, and in an organization of every account of
/// `MEMBER_ACCOUNTS`. An account that cannot be reached is skipped and said.
pub async fn audit(
    clients: &PerScope<Clients>,
    history: &History,
    region: &str,
) -> Result<Intake<Watched>, IntakeError> {
    let members = clients.members();
    let home = members.home().clone();
    let mut scopes = vec![home.clone()];
    if members.organization() {
        scopes.extend(
            members
                .listed()
                .iter()
                .filter(|a| **a != home.account)
                .map(|a| Scope::new(a.clone(), home.region.clone())),
        );
    }
    let audits = join_all(scopes.iter().map(|s| audit_in(clients, history, region, s))).await;
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for (scope, audit) in scopes.iter().zip(audits) {
        match audit {
            Ok(Intake::Cases(c)) => cases.extend(c),
            Ok(Intake::Some {
                cases: c,
                skipped: why,
            }) => {
                cases.extend(c);
                skipped.push(format!("{}: {why}", scope.describe()));
            }
            Ok(Intake::Ignore(_)) => {}
            Err(e) if *scope == home => return Err(e),
            Err(e) => skipped.push(format!("{} not audited: {e}", scope.describe())),
        }
    }
    Ok(match (cases.is_empty(), skipped.is_empty()) {
        (true, true) => Intake::Ignore("no trail in this region".into()),
        (true, false) => Intake::Ignore(skipped.join("; ")),
        (false, true) => Intake::Cases(cases),
        (false, false) => Intake::Some {
            cases,
            skipped: skipped.join("; "),
        },
    })
}

/// The audit of one account.
async fn audit_in(
    clients: &PerScope<Clients>,
    history: &History,
    region: &str,
    scope: &Scope,
) -> Result<Intake<Watched>, IntakeError> {
    let account = clients.get(scope).await?;
    let (live, baselines, stores) = tokio::join!(
        account
            .client
            .describe_trails()
            .include_shadow_trails(false)
            .send(),
        history.baselines(BASELINE),
        store::list(&account.client, region)
    );
    let live = live.map_err(|e| AwsError::of("DescribeTrails", &e))?;
    let baselines = baselines?;
    let trails = trails_of(live.trail_list(), baselines, region, &scope.account);
    let mut cases: Vec<Case<Watched>> = trails
        .into_iter()
        .map(|t| Watched::Trail(t).case())
        .collect();
    let unlisted = match stores {
        Ok(stores) => {
            cases.extend(stores.into_iter().map(|s| Watched::Store(s).case()));
            None
        }
        Err(e) => Some(format!("event data stores not audited: {e}")),
    };
    match (cases.is_empty(), unlisted) {
        (true, None) => Ok(Intake::Ignore("no trail in this region".into())),
        (true, Some(e)) => Err(IntakeError::Unavailable(Unavailable::Read(e))),
        (false, None) => Ok(Intake::Cases(cases)),
        (false, Some(skipped)) => Ok(Intake::Some { cases, skipped }),
    }
}

/// The account's trails homed in `region`: those live, then those only a baseline knows (an
/// unreadable baseline is skipped and logged).
fn trails_of(
    live: &[aws_sdk_cloudtrail::types::Trail],
    baselines: Vec<(String, Value)>,
    region: &str,
    account: &str,
) -> Vec<TrailRef> {
    let mut trails: Vec<TrailRef> = live
        .iter()
        .filter_map(|t| {
            Some(TrailRef {
                name: t.name()?.to_owned(),
                home_region: t.home_region().unwrap_or(region).to_owned(),
                arn: t.trail_arn()?.to_owned(),
            })
        })
        .filter(|t| t.home_region == region)
        .collect();
    for (arn, config) in baselines {
        match serde_json::from_value::<TrailConfig>(config) {
            Ok(b)
                if b.trail.home_region == region
                    && touched::account_of(&arn) == account
                    && !trails.iter().any(|t| t.arn == arn) =>
            {
                trails.push(b.trail);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%arn, error = %e, "unreadable trail baseline skipped"),
        }
    }
    trails
}
