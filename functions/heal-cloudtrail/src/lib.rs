//! heal-cloudtrail: put every stopped, weakened or deleted trail back.
//!
//! The event only says which trail to look at: the decision is made on the live trail,
//! compared with its last known good configuration (its baseline, kept in history and
//! refreshed whenever the trail is seen healthy). Calls go to the trail's home region, since
//! a multi-region trail's shadow copies cannot be changed.

pub mod bucket;
pub mod permissions;
pub mod store;

use std::sync::Arc;
use std::time::SystemTime;

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use futures_util::future::join_all;
use serde_json::json;
use tourniquet::console;
use tourniquet::errors::sdk_message;
use tourniquet::events::{ApiCall, EventError, fields};
use tourniquet::history::History;
use tourniquet::members::{Members, PerScope, Scope};
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Severity, Step, Subject, Trigger,
    Verdict, VerifyError,
};

use serde::{Deserialize, Serialize};
use store::{Ingestion, StoreRef};
use tourniquet_trail::{Selectors, TrailConfig, TrailRef, key, touched, weaknesses};

pub const FUNCTION: &str = "heal-cloudtrail";
/// The history kind under which trail baselines are kept.
pub const BASELINE: &str = "trail";
/// The calls that stop, weaken or delete a trail.
pub const TAMPERING: [&str; 4] = [
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
];

/// What heal-cloudtrail watches: a trail, or a CloudTrail Lake event data store. Untagged,
/// so that an open incident recorded as a bare trail still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Watched {
    Trail(TrailRef),
    Store(StoreRef),
}

impl Watched {
    fn case(self) -> Case<Self> {
        let resource = match &self {
            Self::Trail(t) => t.arn.clone(),
            Self::Store(s) => s.store_arn.clone(),
        };
        Case {
            resource,
            target: self,
        }
    }
}

/// A call naming, by ARN, a trail or store of another account than the caller's: it could
/// not change it (CloudTrail calls act in the caller's account), and the account named is
/// the caller's choice, so nothing is read there.
fn elsewhere(arn: &str, envelope: &tourniquet::events::Envelope) -> Option<Intake<Watched>> {
    let account = touched::account_of(arn);
    (account != envelope.account).then(|| {
        Intake::Ignore(format!(
            "the call names {arn}, of account {account}, from account {}: it cannot change it",
            envelope.account
        ))
    })
}

/// What healing a trail takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Heal {
    /// An event data store stopped or pending deletion: restore it and start its ingestion.
    Ingestion { store: StoreRef, live: Ingestion },
    /// The trail is gone: create it again from its baseline and start logging.
    Recreate { baseline: TrailConfig },
    /// The trail is weaker than its baseline: restore what differs.
    Restore {
        live: Box<TrailConfig>,
        baseline: Box<TrailConfig>,
    },
    /// Logging is off and there is no baseline to compare the rest with (none is known, or
    /// history cannot be reached).
    StartLogging { live: TrailConfig },
}

/// The clients of one account: for the region reached, used unless a trail, its bucket or
/// its key lives elsewhere. Built once per account and region.
#[derive(Debug, Clone)]
pub struct Reach {
    sdk: SdkConfig,
    client: Client,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    region: String,
}

impl Reach {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            sdk: sdk.clone(),
        }
    }

    /// A client for a trail's home region (validated when the trail was resolved).
    fn client_for(&self, region: &str) -> Client {
        if region == self.region {
            return self.client.clone();
        }
        let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        Client::from_conf(conf)
    }

    /// An S3 client for a trail's home region, where its bucket usually is.
    fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            self.s3.clone()
        } else {
            bucket::client_in(&self.sdk, region)
        }
    }
}

/// The heal-cloudtrail remediation.
pub struct Healer {
    /// Per account and region acted in; the function's own built at cold start.
    reach: PerScope<Reach>,
    members: Arc<Members>,
    region: String,
    partition: String,
    history: History,
}

impl Healer {
    pub fn new(fw: &Framework) -> Self {
        Self {
            reach: PerScope::new(fw.members.clone(), &fw.sdk, Reach::new),
            members: fw.members.clone(),
            region: fw.sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            partition: fw.partition().to_owned(),
            history: fw.history.clone(),
        }
    }

    /// The clients of the account an ARN names (a trail, a store), in its region.
    async fn reach(&self, arn: &str) -> Result<Reach, String> {
        let scope = self.members.scope_of_key(arn);
        self.reach.get(&scope).await.map_err(|e| e.to_string())
    }

    /// The trails whose bucket or key an S3 or KMS call names.
    async fn trails_of_delivery_call(
        &self,
        call: &ApiCall,
        scope: &Scope,
    ) -> Result<Intake<Watched>, IntakeError> {
        if let Some(code) = &call.error_code {
            return Ok(Intake::Ignore(format!(
                "the {} call failed ({code}): nothing changed",
                call.event_name
            )));
        }
        let reach = self
            .reach
            .get(scope)
            .await
            .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        let trails = touched::trails_touched(&reach.client, call)
            .await
            .map_err(IntakeError::Unavailable)?;
        if trails.is_empty() {
            return Ok(Intake::Ignore(format!(
                "{} names no trail's bucket or key",
                call.event_name
            )));
        }
        Ok(Intake::Cases(
            trails
                .into_iter()
                .map(|t| Watched::Trail(t).case())
                .collect(),
        ))
    }

    fn trail_of_call(&self, trigger: &Trigger) -> Result<Intake<Watched>, EventError> {
        let Trigger::ApiCall(envelope, call) = trigger else {
            return Ok(Intake::Ignore("not a CloudTrail API call".into()));
        };
        if call.event_source == "cloudtrail.amazonaws.com"
            && store::TAMPERING.contains(&call.event_name.as_str())
        {
            let params = fields("detail.requestParameters", &call.request_parameters)?;
            let name = params.str("eventDataStore")?;
            let store = StoreRef::resolve(name, &call.region, &self.partition, &envelope.account)
                .ok_or_else(|| EventError::Invalid {
                field: "detail.requestParameters.eventDataStore".into(),
                reason: format!("{name:?} is not an event data store ARN or id"),
            })?;
            return Ok(elsewhere(&store.store_arn, envelope)
                .unwrap_or_else(|| Intake::Cases(vec![Watched::Store(store).case()])));
        }
        if call.event_source != "cloudtrail.amazonaws.com"
            || !TAMPERING.contains(&call.event_name.as_str())
        {
            return Ok(Intake::Ignore(format!(
                "{} from {} does not touch a trail",
                call.event_name, call.event_source
            )));
        }
        let params = fields("detail.requestParameters", &call.request_parameters)?;
        let key = if call.event_name == "PutEventSelectors" {
            "trailName"
        } else {
            "name"
        };
        let name = params.str(key)?;
        let trail = TrailRef::resolve(name, &call.region, &self.partition, &envelope.account)
            .ok_or_else(|| EventError::Invalid {
                field: format!("detail.requestParameters.{key}"),
                reason: format!("{name:?} is not a trail name or trail ARN"),
            })?;
        Ok(elsewhere(&trail.arn, envelope)
            .unwrap_or_else(|| Intake::Cases(vec![Watched::Trail(trail).case()])))
    }

    /// Every trail homed in this region, live or known from a baseline (a deleted trail), and
    /// every event data store: of this account, and in an organization of every account of
    /// `MEMBER_ACCOUNTS`. An account that cannot be reached is skipped and said.
    async fn audit(&self) -> Result<Intake<Watched>, IntakeError> {
        let home = self.members.home().clone();
        let mut scopes = vec![home.clone()];
        if self.members.organization() {
            scopes.extend(
                self.members
                    .listed()
                    .iter()
                    .filter(|a| **a != home.account)
                    .map(|a| Scope::new(a.clone(), home.region.clone())),
            );
        }
        let audits = join_all(scopes.iter().map(|s| self.audit_in(s))).await;
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
    async fn audit_in(&self, scope: &Scope) -> Result<Intake<Watched>, IntakeError> {
        let reach = self
            .reach
            .get(scope)
            .await
            .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        let (live, baselines, stores) = tokio::join!(
            reach
                .client
                .describe_trails()
                .include_shadow_trails(false)
                .send(),
            self.history.baselines(BASELINE),
            store::list(&reach.client, &self.region)
        );
        let live = live.map_err(|e| {
            IntakeError::Unavailable(format!("DescribeTrails: {}", sdk_message(&e)))
        })?;
        let baselines = baselines.map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        let mut trails: Vec<TrailRef> = live
            .trail_list()
            .iter()
            .filter_map(|t| {
                Some(TrailRef {
                    name: t.name()?.to_owned(),
                    home_region: t.home_region().unwrap_or(&self.region).to_owned(),
                    arn: t.trail_arn()?.to_owned(),
                })
            })
            .filter(|t| t.home_region == self.region)
            .collect();
        for (arn, config) in baselines {
            match serde_json::from_value::<TrailConfig>(config) {
                Ok(b)
                    if b.trail.home_region == self.region
                        && touched::account_of(&arn) == scope.account
                        && !trails.iter().any(|t| t.arn == arn) =>
                {
                    trails.push(b.trail);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%arn, error = %e, "unreadable trail baseline skipped"),
            }
        }
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
            (true, Some(e)) => Err(IntakeError::Unavailable(e)),
            (false, None) => Ok(Intake::Cases(cases)),
            (false, Some(skipped)) => Ok(Intake::Some { cases, skipped }),
        }
    }

    /// The live configuration, or `None` if the trail does not exist.
    async fn read(&self, trail: &TrailRef) -> Result<Option<TrailConfig>, String> {
        let ct = self.reach(&trail.arn).await?.client_for(&trail.home_region);
        let (described, status, selectors) = tokio::join!(
            ct.describe_trails()
                .trail_name_list(&trail.name)
                .include_shadow_trails(false)
                .send(),
            ct.get_trail_status().name(&trail.name).send(),
            ct.get_event_selectors().trail_name(&trail.name).send(),
        );
        let described = described.map_err(|e| format!("DescribeTrails: {}", sdk_message(&e)))?;
        let Some(live) = described
            .trail_list()
            .iter()
            .find(|t| t.name() == Some(trail.name.as_str()))
        else {
            return Ok(None);
        };
        let missing = |code: Option<&str>| code == Some("TrailNotFoundException");
        let status = match status {
            Ok(s) => s,
            Err(e) if missing(e.code()) => return Ok(None),
            Err(e) => return Err(format!("GetTrailStatus: {}", sdk_message(&e))),
        };
        let selectors = match selectors {
            Ok(s) => Selectors::from_sdk(s.event_selectors(), s.advanced_event_selectors()),
            Err(e) if missing(e.code()) => return Ok(None),
            Err(e) => return Err(format!("GetEventSelectors: {}", sdk_message(&e))),
        };
        let mut config = TrailConfig::from_sdk(live, trail, selectors, &status, SystemTime::now());
        self.read_delivery(&mut config).await?;
        Ok(Some(config))
    }

    /// The trail's bucket and key, read at once.
    async fn read_delivery(&self, config: &mut TrailConfig) -> Result<(), String> {
        let owner = touched::account_of(&config.trail.arn);
        let logs = bucket::log_prefix(config.prefix.as_deref());
        let reach = self.reach(&config.trail.arn).await?;
        let s3 = reach.s3_in(&config.trail.home_region);
        let (bucket, key) = tokio::join!(
            bucket::read(&reach.sdk, &s3, &config.bucket, &logs, owner),
            async {
                match &config.kms_key {
                    Some(id) => {
                        Some(key::read(&key::client_for(&reach.sdk, &reach.kms, id), id).await)
                    }
                    None => None,
                }
            }
        );
        config.bucket_state = Some(bucket?);
        config.key_state = key;
        Ok(())
    }

    /// The bucket and key of `baseline`, read now, put back as it had them.
    async fn heal_delivery_of(&self, baseline: &TrailConfig) -> Vec<Step> {
        let mut live = baseline.clone();
        match self.read_delivery(&mut live).await {
            Ok(()) => self.heal_delivery(&live, baseline).await,
            Err(e) => vec![Step::critical("log-bucket", e)],
        }
    }

    /// Puts the bucket and the key back as the baseline had them, at once, before the trail
    /// (which `UpdateTrail` and `CreateTrail` check against them).
    async fn heal_delivery(&self, live: &TrailConfig, baseline: &TrailConfig) -> Vec<Step> {
        let owner = touched::account_of(&baseline.trail.arn);
        let logs = bucket::log_prefix(baseline.prefix.as_deref());
        let reach = match self.reach(&baseline.trail.arn).await {
            Ok(r) => r,
            Err(e) => return vec![Step::critical("log-bucket", e)],
        };
        let reach = &reach;
        let (bucket_steps, key_steps) = tokio::join!(
            async {
                match (&live.bucket_state, &baseline.bucket_state) {
                    (Some(now), Some(was)) => {
                        bucket::heal(&reach.sdk, now, was, &logs, owner).await
                    }
                    _ => Vec::new(),
                }
            },
            async {
                match (&live.key_state, &baseline.key_state) {
                    (Some(now), Some(was)) => {
                        let kms = key::client_for(&reach.sdk, &reach.kms, &now.id);
                        key::heal(&kms, now, was).await
                    }
                    _ => Vec::new(),
                }
            }
        );
        let mut steps = bucket_steps;
        steps.extend(key_steps);
        steps
    }

    async fn baseline(&self, trail: &TrailRef) -> Result<Option<TrailConfig>, String> {
        let stored = self
            .history
            .baseline(BASELINE, &trail.arn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(stored.and_then(|v| match serde_json::from_value(v) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(arn = %trail.arn, error = %e, "unreadable baseline ignored");
                None
            }
        }))
    }

    fn subject(
        &self,
        trail: &TrailRef,
        heal: Heal,
        summary: String,
        problems: &[String],
    ) -> Verdict<Heal> {
        let (before, plan, undo) = match &heal {
            Heal::Recreate { baseline } => (
                json!({"trail": null, "baseline": baseline}),
                vec![
                    format!("create trail {} from its baseline", baseline.trail.name),
                    "restore its event selectors".into(),
                    "start logging".into(),
                ],
                vec![format!(
                    "aws cloudtrail delete-trail --name {}",
                    baseline.trail.arn
                )],
            ),
            Heal::Restore { live, baseline } => (
                json!({"trail": live, "baseline": baseline}),
                problems.iter().map(|p| format!("undo: {p}")).collect(),
                vec![
                    "the trail's previous settings are in the history table (state before)".into(),
                ],
            ),
            Heal::Ingestion { store, .. } => (
                json!({"store": store}),
                vec!["start ingestion".into()],
                Vec::new(),
            ),
            Heal::StartLogging { live } => (
                json!({"trail": live}),
                vec!["start logging".into()],
                vec![format!(
                    "aws cloudtrail stop-logging --name {}",
                    live.trail.arn
                )],
            ),
        };
        let next_steps = vec![
            "Find what was done while the trail was not as its last known good configuration: \
             CloudTrail's event history keeps 90 days of management events even when no trail \
             logs."
                .to_owned(),
            "The principal who changed the trail is counted as an offender by disable-offender: \
             look at its other calls, and at who gave it the permission."
                .to_owned(),
            "If the change was intended, make it through the change process and tell the \
             security team: Tourniquet restores the last known good configuration every time."
                .to_owned(),
        ];
        Verdict::Act(Subject {
            subject: heal,
            before,
            summary,
            plan,
            undo,
            next_steps,
            links: vec![console::trail(
                &self.partition,
                &trail.home_region,
                &trail.arn,
            )],
        })
    }

    async fn start_logging(&self, ct: &Client, trail: &TrailRef) -> Step {
        // By name, in the home region: AWS also accepts the ARN there.
        match ct.start_logging().name(&trail.name).send().await {
            Ok(_) => Step::ok("start-logging", format!("{} is logging", trail.name)),
            Err(e) => Step::critical("start-logging", sdk_message(&e)),
        }
    }

    async fn restore_selectors(&self, ct: &Client, baseline: &TrailConfig) -> Step {
        let selectors = &baseline.selectors;
        let mut put = ct.put_event_selectors().trail_name(&baseline.trail.name);
        if !selectors.advanced.is_empty() {
            match selectors.to_sdk_advanced() {
                Ok(adv) => put = put.set_advanced_event_selectors(Some(adv)),
                Err(e) => {
                    return Step::critical(
                        "event-selectors",
                        format!("baseline selectors unusable: {e}"),
                    );
                }
            }
        } else {
            put = put.set_event_selectors(Some(selectors.to_sdk_basic()));
        }
        match put.send().await {
            Ok(_) => Step::ok("event-selectors", "restored from the baseline"),
            Err(e) => Step::critical("event-selectors", sdk_message(&e)),
        }
    }

    /// One `UpdateTrail` with every setting that differs from the baseline, from the table
    /// of settings.
    async fn restore_settings(&self, ct: &Client, live: &TrailConfig, b: &TrailConfig) -> Step {
        let weakened = live.weakened(b);
        let update = weakened
            .iter()
            .fold(ct.update_trail().name(&b.trail.name), |call, setting| {
                (setting.restore)(call, (setting.of)(b))
            });
        let words: Vec<&str> = weakened.iter().map(|s| s.words).collect();
        match update.send().await {
            Ok(_) => Step::ok(
                "update-trail",
                format!("restored from the baseline: {}", words.join(", ")),
            ),
            Err(e) => Step::critical("update-trail", sdk_message(&e)),
        }
    }

    async fn recreate(&self, ct: &Client, b: &TrailConfig) -> Step {
        let result = ct
            .create_trail()
            .name(&b.trail.name)
            .s3_bucket_name(&b.bucket)
            .set_s3_key_prefix(b.prefix.clone())
            .set_sns_topic_name(b.sns_topic.clone())
            .include_global_service_events(b.global_events)
            .is_multi_region_trail(b.multi_region)
            .enable_log_file_validation(b.log_file_validation)
            .set_kms_key_id(b.kms_key.clone())
            .set_cloud_watch_logs_log_group_arn(b.log_group.clone())
            .set_cloud_watch_logs_role_arn(b.log_role.clone())
            .is_organization_trail(b.organization)
            .send()
            .await;
        match result {
            Ok(_) => Step::ok(
                "create-trail",
                format!("{} created from its baseline", b.trail.name),
            ),
            Err(e) => Step::critical("create-trail", sdk_message(&e)),
        }
    }
}

impl Remediation for Healer {
    type Target = Watched;
    type Subject = Heal;

    fn action(&self) -> &'static str {
        "heal"
    }

    fn done(&self) -> &'static str {
        "healed"
    }

    /// A protected principal may change a trail on purpose: a human is told instead.
    fn counters_actor(&self) -> bool {
        true
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        None
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Watched>, IntakeError> {
        match trigger {
            Trigger::Scheduled(_) => self.audit().await,
            Trigger::ApiCall(_, call) if touched::is_delivery_call(call) => {
                self.trails_of_delivery_call(call, &self.members.scope_of(trigger))
                    .await
            }
            other => Ok(self.trail_of_call(other)?),
        }
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Watched>,
    ) -> Result<Verdict<Heal>, VerifyError> {
        match &case.target {
            Watched::Trail(trail) => self.verify_trail(ctx, trail).await,
            Watched::Store(store) => self.verify_store(ctx, store).await,
        }
    }

    /// Restarting a stopped trail or store is idempotent and only ever restores.
    fn safe_without_history(&self, heal: &Heal) -> bool {
        matches!(heal, Heal::StartLogging { .. } | Heal::Ingestion { .. })
    }

    /// A healthy trail's configuration becomes its baseline; an ingesting store is recorded.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Watched>,
        verdict: &Verdict<Heal>,
    ) -> Result<(), String> {
        let Verdict::Healthy { known_good, .. } = verdict else {
            return Ok(());
        };
        let (kind, name) = match &case.target {
            Watched::Trail(t) => (BASELINE, &t.arn),
            Watched::Store(s) => (store::BASELINE, &s.store_arn),
        };
        self.history
            .put_baseline(kind, name, known_good, ctx.now)
            .await
            .map_err(|e| e.to_string())
    }

    async fn act(&self, _: &Context<'_>, case: &Case<Watched>, heal: &Heal) -> Vec<Step> {
        match (&case.target, heal) {
            (_, Heal::Ingestion { store, live }) => match self.reach(&store.store_arn).await {
                Ok(reach) => store::restart(&reach.client_for(&store.region), store, live).await,
                Err(e) => vec![Step::critical("ingestion", e)],
            },
            (Watched::Trail(trail), heal) => self.heal_trail(trail, heal).await,
            (Watched::Store(_), _) => Vec::new(),
        }
    }
}

impl Healer {
    async fn verify_trail(
        &self,
        ctx: &Context<'_>,
        trail: &TrailRef,
    ) -> Result<Verdict<Heal>, VerifyError> {
        let (live, baseline) = tokio::join!(self.read(trail), self.baseline(trail));
        let live = live.map_err(VerifyError)?;
        let baseline = match (baseline, &live) {
            (Ok(b), _) => b,
            // History is unreachable: a stopped trail is still restarted (only ever a
            // restore), anything else waits for its baseline.
            (Err(e), Some(live)) if !live.logging => {
                let summary = format!(
                    "trail {} is not logging (its baseline cannot be read: {e})",
                    trail.name
                );
                let problems = ["logging turned off".to_owned()];
                let heal = Heal::StartLogging { live: live.clone() };
                return Ok(self.subject(trail, heal, summary, &problems));
            }
            (Err(e), _) => return Err(VerifyError(e)),
        };
        let failed_call = matches!(ctx.trigger, Trigger::ApiCall(_, c) if c.error_code.is_some());
        // Only the audit keeps a configuration as the last known good one: an event may come
        // from the attacker's own change, and a first baseline taken then would be theirs.
        let audit = matches!(ctx.trigger, Trigger::Scheduled(_));
        match (live, baseline) {
            (None, Some(baseline)) => {
                let summary = format!("trail {} was deleted", trail.name);
                Ok(self.subject(trail, Heal::Recreate { baseline }, summary, &[]))
            }
            (None, None) if failed_call => Ok(Verdict::NothingToDo(format!(
                "the call failed and trail {} does not exist",
                trail.name
            ))),
            (None, None) => Ok(Verdict::Notice {
                severity: Severity::Critical,
                headline: format!("trail {} deleted, cannot heal", trail.name),
                detail: format!(
                    "Trail {} is gone and no known good configuration of it is in history, so it \
                     cannot be recreated automatically. A person must recreate it now.",
                    trail.arn
                ),
                facts: json!({"trail": trail}),
            }),
            (Some(live), Some(baseline)) => {
                let problems = weaknesses(&live, &baseline);
                if problems.is_empty() && !audit {
                    return Ok(Verdict::AlreadyRemediated(format!(
                        "trail {} is as its last known good configuration, or stronger",
                        trail.name
                    )));
                }
                if problems.is_empty() {
                    // Never weaker than the baseline: what it adds becomes known good.
                    return Ok(Verdict::Healthy {
                        reason: format!("trail {} is healthy (baseline refreshed)", trail.name),
                        known_good: json!(live),
                    });
                }
                let summary = format!("trail {}: {}", trail.name, problems.join("; "));
                let heal = Heal::Restore {
                    live: Box::new(live),
                    baseline: Box::new(baseline),
                };
                Ok(self.subject(trail, heal, summary, &problems))
            }
            (Some(live), None) if live.logging && audit && live.delivery_error.is_none() => {
                Ok(Verdict::Healthy {
                    reason: format!(
                        "trail {} is logging; no earlier baseline, this one recorded",
                        trail.name
                    ),
                    known_good: json!(live),
                })
            }
            (Some(live), None) if live.logging => {
                let changed = match ctx.trigger {
                    Trigger::ApiCall(_, call) => {
                        tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters)
                    }
                    _ => Vec::new(),
                };
                if changed.is_empty() && live.delivery_error.is_none() {
                    return Ok(Verdict::NothingToDo(format!(
                        "trail {} is logging; no known good configuration yet (the audit \
                         records one)",
                        trail.name
                    )));
                }
                let mut what = changed;
                what.extend(
                    live.delivery_error
                        .iter()
                        .map(|e| format!("logs not delivered: {e}")),
                );
                Ok(Verdict::Notice {
                    severity: Severity::Critical,
                    headline: format!("trail {} weakened, cannot heal", trail.name),
                    detail: format!(
                        "Trail {} is weakened ({}) and no known good configuration of it is in \
                         history yet, so nothing can be restored automatically. A person must \
                         put it right; the daily audit then records it as known good.",
                        trail.arn,
                        what.join("; ")
                    ),
                    facts: json!({"trail": trail, "weakened": what}),
                })
            }
            (Some(live), None) => {
                let summary = format!("trail {} is not logging (no baseline known)", trail.name);
                let problems = ["logging turned off".to_owned()];
                Ok(self.subject(trail, Heal::StartLogging { live }, summary, &problems))
            }
        }
    }

    async fn heal_trail(&self, trail: &TrailRef, heal: &Heal) -> Vec<Step> {
        let ct = match self.reach(&trail.arn).await {
            Ok(reach) => reach.client_for(&trail.home_region),
            Err(e) => return vec![Step::critical("reach", format!("NOTHING healed: {e}"))],
        };
        let mut steps = Vec::new();
        match heal {
            Heal::Recreate { baseline } => {
                // The bucket may be gone with the trail: claimed again first.
                steps.extend(self.heal_delivery_of(baseline).await);
                let created = self.recreate(&ct, baseline).await;
                let ok = created.ok;
                steps.push(created);
                if ok {
                    steps.push(self.restore_selectors(&ct, baseline).await);
                    steps.push(self.start_logging(&ct, &baseline.trail).await);
                }
            }
            Heal::Restore { live, baseline } => {
                // The bucket and key the trail goes back to: the baseline's, read now when
                // the trail names others.
                if live.bucket != baseline.bucket || live.kms_key != baseline.kms_key {
                    steps.extend(self.heal_delivery_of(baseline).await);
                } else {
                    steps.extend(self.heal_delivery(live, baseline).await);
                }
                if !live.weakened(baseline).is_empty() {
                    steps.push(self.restore_settings(&ct, live, baseline).await);
                }
                if !live.selectors.narrower_than(&baseline.selectors).is_empty() {
                    steps.push(self.restore_selectors(&ct, baseline).await);
                }
                if baseline.logging && !live.logging {
                    steps.push(self.start_logging(&ct, &baseline.trail).await);
                }
                if let Some(error) = &live.delivery_error {
                    steps.push(Step::critical(
                        "delivery",
                        format!(
                            "CloudTrail cannot deliver the logs of {} to {}: {error}. The \
                             bucket's policy, the bucket itself or the KMS key must be put \
                             right; until then nothing is kept.",
                            live.trail.name, live.bucket
                        ),
                    ));
                }
            }
            // No baseline is written here: only the audit keeps one.
            Heal::StartLogging { live } => steps.push(self.start_logging(&ct, &live.trail).await),
            Heal::Ingestion { .. } => {}
        }
        steps
    }

    /// A store is healed when a call stopped it, or when the audit finds stopped a store it
    /// once saw ingesting; the audit records each store it sees ingesting.
    async fn verify_store(
        &self,
        ctx: &Context<'_>,
        store: &StoreRef,
    ) -> Result<Verdict<Heal>, VerifyError> {
        let ct = self
            .reach(&store.store_arn)
            .await
            .map_err(VerifyError)?
            .client_for(&store.region);
        let (live, seen) = tokio::join!(
            store::ingestion(&ct, store),
            self.history.baseline(store::BASELINE, &store.store_arn)
        );
        let live = live.map_err(VerifyError)?;
        let audit = matches!(ctx.trigger, Trigger::Scheduled(_));
        let seen_ingesting = matches!(seen, Ok(Some(_)));
        let arn = &store.store_arn;
        let what = match &live {
            Ingestion::On if audit => {
                return Ok(Verdict::Healthy {
                    reason: format!("event data store {arn} is ingesting"),
                    known_good: json!({"ingesting": true}),
                });
            }
            Ingestion::On => {
                return Ok(Verdict::AlreadyRemediated(format!(
                    "event data store {arn} is ingesting"
                )));
            }
            Ingestion::Gone if seen_ingesting => {
                return Ok(Verdict::Notice {
                    severity: Severity::Critical,
                    headline: format!("event data store deleted: {arn}"),
                    detail: format!(
                        "Event data store {arn} is gone for good, with the events it kept. A \
                         person must look at who deleted it and what it held."
                    ),
                    facts: json!({"store": store}),
                });
            }
            Ingestion::Gone => {
                return Ok(Verdict::NothingToDo(format!(
                    "event data store {arn} does not exist"
                )));
            }
            _ if audit && !seen_ingesting => {
                return Ok(Verdict::NothingToDo(format!(
                    "event data store {arn} is not ingesting and was never seen ingesting: \
                     left alone"
                )));
            }
            Ingestion::PendingDeletion => "pending deletion",
            Ingestion::Stopped(_) => "not ingesting",
        };
        let restore = live == Ingestion::PendingDeletion;
        let mut plan = Vec::new();
        if restore {
            plan.push("restore the event data store".to_owned());
        }
        plan.push("start its ingestion".to_owned());
        Ok(Verdict::Act(Subject {
            before: json!({"store": store, "status": what}),
            summary: format!("event data store {arn} is {what}"),
            plan,
            undo: vec![format!(
                "aws cloudtrail stop-event-data-store-ingestion --event-data-store {arn}"
            )],
            next_steps: vec![
                "Find what was done while the store kept nothing: CloudTrail's event history \
                 keeps 90 days of management events."
                    .to_owned(),
            ],
            links: Vec::new(),
            subject: Heal::Ingestion {
                store: store.clone(),
                live,
            },
        }))
    }
}
