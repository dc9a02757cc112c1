//! isolate-instance: contain an EC2 instance tagged `Tainted`.
//!
//! The critical path, event to quarantine on every interface, is four dependent rounds of
//! AWS calls: (1) read the instance, its Auto Scaling group, the quarantine groups, the
//! dedupe key and the safeguard's slots, all at once; (2) take the safeguard slot and record
//! the state before, at once; (3) every interface to the allow-all group while the instance
//! leaves its Auto Scaling group; (4) every interface to the quarantine group. Evidence,
//! load balancers and credentials run beside it.

pub mod config;
pub use tourniquet::credentials;
pub mod evidence;
pub mod finding;
pub mod fleet;
pub mod groups;
pub mod instance;
pub mod intake;
pub mod nacl;
pub mod network;
pub mod permissions;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tourniquet::console::{self, Link};
use tourniquet::history::IncidentStatus;
use tourniquet::members::{Members, PerScope, Scope};
use tourniquet::safeguard::Safeguard;
use tourniquet::time::rfc3339;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Severity, Step, Subject, Trigger,
    Verdict, VerifyError,
};

pub use config::IsolateConfig;
use groups::Known;
use instance::Instance;

pub const FUNCTION: &str = "isolate-instance";
/// The tag that marks a quarantined instance.
pub const STATUS_TAG: &str = "tourniquet:status";

/// The confirmation of a finding, boxed.
type Confirming<'s> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Verdict<Target>>, VerifyError>> + Send + 's>,
>;

/// The AWS clients isolation uses, built once per cold start.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub iam: aws_sdk_iam::Client,
    pub guardduty: aws_sdk_guardduty::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancing::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            guardduty: aws_sdk_guardduty::Client::new(sdk),
        }
    }
}

/// What the event's one read found for a case, moments before (an event naming many
/// instances), or nothing: the case reads its instance itself. Never kept in history: a
/// resumed incident reads the live state again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen(pub Option<Arc<(Instance, Known)>>);

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Self(None))
    }
}

/// The live instance to isolate, and Tourniquet's groups as history and the live state
/// know them.
#[derive(Debug, Clone)]
pub struct Target {
    pub instance: Instance,
    pub groups: Known,
}

/// The isolate-instance remediation.
pub struct Isolator {
    /// Per account and region acted in; the function's own built at cold start.
    clients: PerScope<Clients>,
    members: Arc<Members>,
    config: IsolateConfig,
    safeguard: Safeguard,
    history: tourniquet::history::History,
    /// The partition of this function's own identity (`aws`, `aws-cn`, …), for ARNs.
    partition: String,
}

impl Isolator {
    pub fn new(fw: &Framework, config: IsolateConfig) -> Self {
        Self {
            clients: PerScope::new(fw.members.clone(), &fw.sdk, Clients::new),
            members: fw.members.clone(),
            safeguard: fw.safeguard(config.safeguard),
            history: fw.history.clone(),
            partition: fw.partition().to_owned(),
            config,
        }
    }

    /// What history calls the instance `id` of `scope`: elsewhere than the function's own
    /// account and region its ARN, which names them; at home its id, as always (so that
    /// turning an organization on keeps the history of the home account).
    fn key(&self, scope: &Scope, id: &str) -> String {
        if scope != self.members.home() {
            format!(
                "arn:{}:ec2:{}:{}:instance/{id}",
                self.partition, scope.region, scope.account
            )
        } else {
            id.to_owned()
        }
    }

    /// History's records of the quarantine groups of `scope`.
    fn records(&self, scope: &Scope) -> groups::Records {
        let prefix = (scope != self.members.home()).then(|| {
            format!(
                "arn:{}:ec2:{}:{}:vpc/",
                self.partition, scope.region, scope.account
            )
        });
        groups::Records::new(self.history.clone(), prefix)
    }

    /// Where the instance recorded under `key` is, and its id.
    fn locate<'k>(&self, key: &'k str) -> (Scope, &'k str) {
        let id = key.rsplit('/').next().unwrap_or(key);
        (self.members.scope_of_key(key), id)
    }

    /// The live instances, the groups of Tourniquet's names and history's record of which are
    /// its own, in one round.
    async fn read(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<(BTreeMap<String, Instance>, Known), String> {
        let clients = self.clients.get(scope).await.map_err(|e| e.to_string())?;
        let recorded = self.records(scope);
        let (live, groups, records) = tokio::join!(
            instance::read_all(&clients, &self.partition, ids),
            groups::live(&clients.ec2, &self.config.quarantine_group),
            recorded.all()
        );
        // Without the groups they are treated as absent and made anew, never guessed.
        let groups = groups.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "quarantine group lookup failed");
            Vec::new()
        });
        let records = records.map_err(|e| e.to_string())?;
        Ok((live?, Known::new(groups, records)))
    }

    /// [`Self::confirm_finding`], built on the heap in a frame of its own: the verify future
    /// is polled deep in the pipeline, where debug builds are near the test threads' stack.
    fn finding_confirmed<'s>(
        &'s self,
        ctx: &'s Context<'_>,
        case: &'s Case<Seen>,
    ) -> Confirming<'s> {
        Box::pin(self.confirm_finding(ctx, case))
    }

    /// For a GuardDuty finding: `None` once GuardDuty confirms it, else the notice that
    /// replaces the isolation.
    async fn confirm_finding(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Option<Verdict<Target>>, VerifyError> {
        let Trigger::Finding(_, f) = ctx.trigger else {
            return Ok(None);
        };
        let (scope, id) = self.locate(&case.resource);
        let clients = self
            .clients
            .get(&scope)
            .await
            .map_err(|e| VerifyError(e.to_string()))?;
        let (severity, why) = match finding::confirm(&clients.guardduty, f, id)
            .await
            .map_err(VerifyError)?
        {
            finding::Confirmation::Confirmed => return Ok(None),
            finding::Confirmation::Refuted(why) => (Severity::Warning, why),
            finding::Confirmation::Unconfirmable(why) => (Severity::Critical, why),
        };
        let detail = match severity {
            Severity::Critical => format!(
                "GuardDuty could not be asked whether finding {} is real ({why}), so {id} was \
                 not isolated. If the finding is in the GuardDuty console, isolate {id} by \
                 hand (tourniquet's direct invocation, or tag it {}).",
                f.id, self.config.taint_key
            ),
            _ => format!(
                "GuardDuty does not back this finding ({why}), so {id} was not isolated: the \
                 event was not GuardDuty's. Find who invoked the function or put it on the bus."
            ),
        };
        Ok(Some(Verdict::Notice {
            severity,
            headline: format!("unconfirmed finding, not isolated: {id}"),
            detail,
            facts: json!({"finding": f.id, "instance": id, "detector": f.detector_id,
                          "unconfirmed": why}),
        }))
    }

    /// One case's live instance: read ahead with its event's, or now.
    async fn live(&self, case: &Case<Seen>) -> Result<(Option<Instance>, Known), VerifyError> {
        if let Some(seen) = &case.target.0 {
            let (inst, known) = seen.as_ref();
            return Ok((Some(inst.clone()), known.clone()));
        }
        let (scope, id) = self.locate(&case.resource);
        let (mut found, known) = self
            .read(&scope, &[id.to_owned()])
            .await
            .map_err(VerifyError)?;
        Ok((found.remove(id), known))
    }

    /// Reads the instances of an event naming many in one round, so that an event naming 1000
    /// ids spends a handful of requests on all of them, and keeps the cases of those that
    /// exist with what was read.
    async fn read_ahead(
        &self,
        scope: &Scope,
        cases: Vec<Case<()>>,
    ) -> Result<Intake<Seen>, IntakeError> {
        let ids: Vec<String> = cases.iter().map(|c| c.resource.clone()).collect();
        let (mut live, known) = self
            .read(scope, &ids)
            .await
            .map_err(IntakeError::Unavailable)?;
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for case in cases {
            match live.remove(&case.resource) {
                Some(inst) if inst.state != "terminated" => kept.push(Case {
                    target: Seen(Some(Arc::new((inst, known.clone())))),
                    resource: self.key(scope, &case.resource),
                }),
                _ => gone.push(case.resource),
            }
        }
        if gone.is_empty() {
            return Ok(Intake::Cases(kept));
        }
        let named: Vec<&str> = gone.iter().take(20).map(String::as_str).collect();
        let skipped = format!(
            "{} named instance(s) do not exist or are terminated: {}{}",
            gone.len(),
            named.join(", "),
            if gone.len() > named.len() {
                ", ..."
            } else {
                ""
            }
        );
        Ok(Intake::Some {
            cases: kept,
            skipped,
        })
    }

    /// A `DeleteTags` took the taint off. After Tourniquet isolated the instance that is the
    /// release; before, the taint never took effect, perhaps removed by the attacker on the
    /// box, and a person is told who removed it, as CloudTrail recorded the call.
    async fn taint_removed(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Verdict<Target>, VerifyError> {
        let (live, incidents) =
            tokio::join!(self.live(case), self.history.incidents(&case.resource));
        let (found, _) = live?;
        let incidents = incidents.map_err(|e| VerifyError(e.to_string()))?;
        let who = ctx
            .actor
            .map(|p| p.display_arn().to_owned())
            .unwrap_or_else(|| "an unknown principal".to_owned());
        let key = &self.config.taint_key;
        match found {
            None => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} does not exist",
                    case.resource
                )));
            }
            Some(inst) if inst.tags.contains_key(key) => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} carries {key} again",
                    inst.id
                )));
            }
            Some(_) => {}
        }
        // Isolated, or under way: the instance's latest incident acted. An isolation long
        // past, released since, does not make a new taint's removal a release.
        let acted = [
            IncidentStatus::Remediated,
            IncidentStatus::Partial,
            IncidentStatus::InProgress,
        ]
        .map(IncidentStatus::as_str);
        let isolated = incidents
            .iter()
            .rev()
            .find(|i| i.action == self.action())
            .filter(|i| acted.contains(&i.status.as_str()));
        if let Some(i) = isolated {
            return Ok(Verdict::NothingToDo(format!(
                "{who} removed {key} from {} after Tourniquet isolated it (incident {}): a release",
                case.resource, i.delivery_id
            )));
        }
        Ok(Verdict::Notice {
            severity: Severity::Warning,
            headline: format!("taint removed before isolation: {} by {who}", case.resource),
            detail: format!(
                "{who} removed {key} from {} before Tourniquet isolated it, so nothing was done. \
                 If that principal is not a person who meant to withdraw the taint (the \
                 instance's own role, an unknown user), treat it as the attacker: tag the \
                 instance again and look at what that principal did.",
                case.resource
            ),
            facts: json!({"instance": case.resource, "taint_key": key, "removed_by": who}),
        })
    }

    fn plan(&self, inst: &Instance) -> Vec<String> {
        let mut plan = Vec::new();
        if let Some(g) = &inst.auto_scaling_group {
            plan.push(format!(
                "detach from Auto Scaling group {g}, keeping desired capacity"
            ));
        }
        plan.push("deregister from every ELBv2 target group and Classic Load Balancer".into());
        for eni in &inst.interfaces {
            plan.push(format!(
                "{}: {} then {} (was {})",
                eni.id,
                self.config.allow_all_group(),
                self.config.quarantine_group,
                eni.groups.join(", ")
            ));
        }
        plan.push(
            "deny the instance's addresses in its subnets' network ACLs, both directions".into(),
        );
        plan.push("connection-tracking idle timeouts to their minimums".into());
        plan.push("termination protection on, shutdown behaviour stop".into());
        for v in &inst.volumes {
            plan.push(format!(
                "snapshot {} ({}), keep it on termination",
                v.id, v.device
            ));
        }
        if let Some(p) = &inst.instance_profile_arn {
            plan.push(format!(
                "deny all to this instance's sessions of the role of {p}"
            ));
        }
        plan.push(format!("tag {STATUS_TAG}=quarantined"));
        plan
    }

    /// What the investigation looks at first, once the instance is cut off.
    fn next_steps(&self, inst: &Instance) -> Vec<String> {
        let mut steps = vec![format!(
            "Examine the evidence snapshots from a forensic instance in an isolated VPC or \
             account; never attach them to {} itself.",
            inst.id
        )];
        if let Some(reason) = inst.tags.get(&self.config.taint_key) {
            steps.push(format!(
                "Find how the attacker got in; the taint says: \"{reason}\" (written by whoever \
                 tagged the instance, not verified)."
            ));
        }
        if inst.instance_profile_arn.is_some() {
            steps.push(format!(
                "Look in CloudTrail for what the instance's role did: its sessions on {} carry \
                 ec2:SourceInstanceARN {}. Rotate every secret the instance could read.",
                inst.id, inst.arn
            ));
        }
        steps.push(format!(
            "Release {} or terminate it once the evidence is examined; until then it stays cut \
             off.",
            inst.id
        ));
        steps
    }

    fn links(&self, inst: &Instance, trigger: &Trigger) -> Vec<Link> {
        let region = inst.arn.split(':').nth(3).unwrap_or_default();
        let mut links = vec![console::instance(&self.partition, region, &inst.id)];
        if let Trigger::Finding(envelope, finding) = trigger {
            links.push(console::guardduty_finding(
                &self.partition,
                &envelope.region,
                &finding.id,
            ));
        }
        if let Some(profile) = inst
            .instance_profile_arn
            .as_deref()
            .and_then(credentials::profile_name)
        {
            links.push(console::instance_profile(&self.partition, profile));
        }
        links
    }

    fn undo(&self, inst: &Instance) -> Vec<String> {
        let mut undo: Vec<String> = inst
            .interfaces
            .iter()
            .map(|eni| {
                format!(
                    "aws ec2 modify-network-interface-attribute --network-interface-id {} --groups {}",
                    eni.id,
                    eni.groups.join(" ")
                )
            })
            .collect();
        if let Some(p) = inst
            .instance_profile_arn
            .as_deref()
            .and_then(credentials::profile_name)
        {
            undo.push(format!(
                "in the inline policy {} of the role of instance profile {p}, remove {} from the \
                 ec2:SourceInstanceARN list (aws iam get-role-policy / put-role-policy; delete \
                 the policy when no other instance is listed)",
                credentials::POLICY_NAME,
                inst.arn
            ));
        }
        undo.push(
            "delete the network ACL deny entries each `nacl` step lists, with the command it \
             names (aws ec2 delete-network-acl-entry ...)"
                .to_owned(),
        );
        undo.push(format!(
            "aws ec2 modify-instance-attribute --instance-id {} --no-disable-api-termination \
             (once the evidence is kept; unless the termination-protection step says it was \
             on), the shutdown behaviour back to what the shutdown-behaviour step says it was, \
             and remove the tag {STATUS_TAG}",
            inst.id
        ));
        undo
    }

    /// Containment: out of the Auto Scaling group and onto allow-all at once, then
    /// quarantine, on every interface concurrently.
    async fn contain(
        &self,
        clients: &Clients,
        records: &groups::Records,
        inst: &Instance,
        known: &Known,
    ) -> Vec<Step> {
        let ec2 = &clients.ec2;
        let Some(vpc) = inst.vpc_id.as_deref() else {
            return vec![Step::critical(
                "quarantine",
                "the instance is in no VPC: network NOT cut",
            )];
        };
        let opening = async {
            let names = (
                self.config.quarantine_group.as_str(),
                self.config.allow_all_group(),
            );
            let (groups, mut steps) =
                groups::ensure(ec2, records, known, vpc, (names.0, &names.1)).await;
            if let Ok(g) = &groups {
                steps.extend(
                    join_all(inst.interfaces.iter().map(|eni| network::open(ec2, eni, g))).await,
                );
            }
            (groups, steps)
        };
        let (detached, (groups, mut steps)) = tokio::join!(fleet::detach(clients, inst), opening);
        steps.extend(detached);
        match groups {
            Ok(g) => {
                let closed = join_all(
                    inst.interfaces
                        .iter()
                        .map(|eni| network::close(ec2, eni, &g)),
                )
                .await;
                steps.extend(closed);
            }
            Err(e) => steps.push(Step::critical(
                "quarantine",
                format!("no quarantine group in {vpc}, network NOT cut: {e}"),
            )),
        }
        steps
    }
}

impl Remediation for Isolator {
    type Target = Seen;
    type Subject = Target;

    fn action(&self) -> &'static str {
        "isolate"
    }

    fn done(&self) -> &'static str {
        "isolated"
    }

    /// A taint tag is a request to isolate, which anyone may make: the safeguard, not the
    /// tagger's identity, limits it.
    fn counters_actor(&self) -> bool {
        false
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        Some(&self.safeguard)
    }

    /// Every trigger asks for containment but the taint's removal, which is only reported.
    fn threatening(&self, trigger: &Trigger) -> bool {
        !matches!(trigger, Trigger::ApiCall(_, call) if call.event_name == "DeleteTags")
            && !matches!(trigger, Trigger::Scheduled(_) | Trigger::Sweep)
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Seen>, IntakeError> {
        let scope = self.members.scope_of(trigger);
        let unread = |cases: Vec<Case<()>>| {
            cases
                .into_iter()
                .map(|c| Case {
                    resource: self.key(&scope, &c.resource),
                    target: Seen(None),
                })
                .collect()
        };
        Ok(match intake::intake(trigger, &self.config)? {
            Intake::Cases(cases) if cases.len() > instance::READ_AHEAD_ABOVE => {
                self.read_ahead(&scope, cases).await?
            }
            Intake::Cases(cases) => Intake::Cases(unread(cases)),
            Intake::Some { cases, skipped } => Intake::Some {
                cases: unread(cases),
                skipped,
            },
            Intake::Ignore(why) => Intake::Ignore(why),
        })
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Verdict<Target>, VerifyError> {
        if let Trigger::ApiCall(_, call) = ctx.trigger
            && call.event_name == "DeleteTags"
        {
            return self.taint_removed(ctx, case).await;
        }
        let (live, confirmed) = tokio::join!(self.live(case), self.finding_confirmed(ctx, case));
        let (found, groups) = live?;
        if let Some(refused) = confirmed? {
            return Ok(refused);
        }
        let Some(inst) = found else {
            return Ok(Verdict::NothingToDo(format!(
                "{} does not exist",
                case.resource
            )));
        };
        if matches!(inst.state.as_str(), "terminated" | "shutting-down") {
            return Ok(Verdict::NothingToDo(format!(
                "{} is {}",
                inst.id, inst.state
            )));
        }
        // Only a taint asks by the tag: a GuardDuty finding is its own evidence, and the sweep
        // finishes an incident some trigger opened.
        let asks_by_taint = matches!(
            ctx.trigger,
            Trigger::ApiCall(..) | Trigger::TagChange(..) | Trigger::Direct(_)
        );
        if asks_by_taint && !inst.tags.contains_key(&self.config.taint_key) {
            let gone = format!("{} no longer carries {}", inst.id, self.config.taint_key);
            if matches!(ctx.trigger, Trigger::Direct(_)) {
                return Ok(Verdict::NothingToDo(gone));
            }
            // The event saw the taint and the live instance does not: someone removed it in
            // between, possibly the attacker on the box.
            return Ok(Verdict::Notice {
                severity: Severity::Warning,
                headline: format!("taint removed before isolation: {}", inst.id),
                detail: format!(
                    "{gone}: the tag was removed after it was set and before it could be acted \
                     on, so nothing was done. A separate notice names who removed it once \
                     CloudTrail reports the DeleteTags call on {}; tag it again if the taint \
                     was real.",
                    inst.id
                ),
                facts: json!({"instance": inst.id, "taint_key": self.config.taint_key}),
            });
        }
        if let Some(why) = inst.tags.get(&self.config.exempt_key) {
            return Ok(Verdict::Exempt(format!(
                "{} carries {}={why}",
                inst.id, self.config.exempt_key
            )));
        }
        Ok(Verdict::Act(Subject {
            before: json!(inst),
            summary: inst.describe(),
            plan: self.plan(&inst),
            undo: self.undo(&inst),
            next_steps: self.next_steps(&inst),
            links: self.links(&inst, ctx.trigger),
            subject: Target {
                instance: inst,
                groups,
            },
        }))
    }

    /// Each VPC's groups, made before any incident needs them.
    async fn upkeep(&self, _: &Context<'_>) -> Vec<Step> {
        let names = (
            self.config.quarantine_group.as_str(),
            self.config.allow_all_group(),
        );
        let ec2 = self.clients.home().ec2;
        let records = self.records(self.members.home());
        groups::prepare(&ec2, &records, (names.0, &names.1)).await
    }

    /// Every interface in the VPC's quarantine group (Tourniquet's own, rule-less) and
    /// nothing else. The status tag is never believed: the instance may tag itself.
    fn settled(&self, target: &Target) -> Option<String> {
        let inst = &target.instance;
        let vpc = inst.vpc_id.as_deref()?;
        // Tourniquet's own quarantine group, still without a rule.
        let group = target.groups.quarantine(vpc)?;
        if !(group.ingress.is_empty() && group.egress.is_empty()) {
            return None;
        }
        let quarantine = &group.id;
        let all = !inst.interfaces.is_empty()
            && inst
                .interfaces
                .iter()
                .all(|eni| matches!(eni.groups.as_slice(), [g] if g == quarantine));
        all.then(|| {
            format!(
                "{} is already quarantined: every interface is in {quarantine}",
                inst.id
            )
        })
    }

    /// The live instance, whatever its tags say now (an attacker may have removed the taint),
    /// with the undo built from the state recorded when the incident opened.
    async fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
        before: &serde_json::Value,
    ) -> Result<Verdict<Target>, VerifyError> {
        let original: Instance = serde_json::from_value(before.clone())
            .map_err(|e| VerifyError(format!("the recorded state before is unreadable: {e}")))?;
        let (found, groups) = self.live(case).await?;
        let inst = match found {
            Some(inst) if inst.state != "terminated" => inst,
            _ => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} no longer exists or is terminated",
                    case.resource
                )));
            }
        };
        Ok(Verdict::Act(Subject {
            before: before.clone(),
            summary: inst.describe(),
            plan: self.plan(&inst),
            undo: self.undo(&original),
            next_steps: self.next_steps(&inst),
            links: self.links(&inst, ctx.trigger),
            subject: Target {
                instance: inst,
                groups,
            },
        }))
    }

    async fn act(&self, ctx: &Context<'_>, case: &Case<Seen>, target: &Target) -> Vec<Step> {
        let inst = &target.instance;
        let (scope, _) = self.locate(&case.resource);
        let clients = match self.clients.get(&scope).await {
            Ok(c) => c,
            Err(e) => {
                return vec![Step::critical(
                    "reach",
                    format!("cannot act in {}, NOTHING done: {e}", scope.describe()),
                )];
            }
        };
        let clients = &clients;
        let ec2 = &clients.ec2;
        let containment = async {
            let records = self.records(&scope);
            let mut steps = self.contain(clients, &records, inst, &target.groups).await;
            let quarantined = !inst.interfaces.is_empty()
                && inst.interfaces.iter().all(|eni| {
                    let name = format!("quarantine {}", eni.id);
                    steps.iter().any(|s| s.ok && s.name == name)
                });
            // After the cut, so that it never delays it.
            let at = rfc3339(ctx.now);
            let (mark, tracking) = tokio::join!(
                evidence::mark(ec2, inst, ctx.incident, quarantined, &at),
                join_all(
                    inst.interfaces
                        .iter()
                        .map(|eni| network::shorten_tracking(ec2, eni))
                ),
            );
            steps.push(mark);
            steps.extend(tracking);
            steps
        };
        let credentials = async {
            match &inst.instance_profile_arn {
                Some(profile) => {
                    credentials::cut(&clients.iam, &self.history, profile, &inst.arn).await
                }
                None => vec![Step::ok(
                    "role-deny",
                    "no instance profile: no role credentials",
                )],
            }
        };
        let (contained, edge, evidence, target_groups, classic, credentials) = tokio::join!(
            containment,
            nacl::deny(ec2, &self.history, inst),
            evidence::preserve(ec2, inst, ctx.incident),
            fleet::leave_target_groups(clients, inst),
            fleet::leave_classic_load_balancers(clients, inst),
            credentials,
        );
        let mut steps = contained;
        steps.extend(edge);
        steps.extend(target_groups);
        steps.extend(classic);
        steps.extend(evidence);
        steps.extend(credentials);
        steps
    }
}
