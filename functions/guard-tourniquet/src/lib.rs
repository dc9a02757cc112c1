//! guard-tourniquet: Tourniquet defends itself.
//!
//! An attacker who knows Tourniquet is deployed turns it off first: a rule disabled or
//! emptied, a function's concurrency set to 0 or `DRY_RUN=true`, a key disabled, the table
//! or the topic deleted, a role's policy changed. Every such call on Tourniquet's own
//! resources (`tourniquet::own`) pages CRITICAL naming who made it, and what can be put back
//! safely is: the rule enabled with its targets and pattern, the concurrency, the key. An
//! hourly audit finds what no event told, and records the rules and functions as deployed.
//! A CloudFormation deploy of this stack is the change process: its calls refresh the
//! records instead. A call through another stack is tampering like any other.

pub mod lambdas;
pub mod member;
pub mod permissions;
pub mod rules;

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tourniquet::config::{ConfigError, Env};
use tourniquet::errors::sdk_message;
use tourniquet::events::ApiCall;
use tourniquet::history::History;
use tourniquet::own::{Own, OwnResources, function_name};
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Severity, Step, Subject, Trigger,
    Verdict, VerifyError,
};
use tourniquet_trail::key::{self, KeyState};

use lambdas::FunctionRecord;
use rules::RuleRecord;

pub const FUNCTION: &str = "guard-tourniquet";
/// Where CloudTrail says a call came from when CloudFormation made it for a deploy.
const CLOUDFORMATION: &str = "cloudformation.amazonaws.com";

/// How long after this stack was created or updated a call through CloudFormation is taken
/// for its deploy.
const DEPLOY_WINDOW_SECS: i64 = 3600;

/// What the guard guards, and the stack's values of the settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    pub own: OwnResources,
    pub settings: BTreeMap<String, String>,
    /// This stack (`STACK_NAME`): its deploys change Tourniquet's resources on purpose.
    pub stack_name: Option<String>,
}

impl GuardConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let stack_name = env.string_or("STACK_NAME", "");
        Ok(Self {
            own: OwnResources::from_env(env)?,
            settings: lambdas::stack_settings(env),
            stack_name: (!stack_name.is_empty()).then_some(stack_name),
        })
    }
}

/// Whether a stack created or updated at `updated` (epoch seconds) is deploying now: within
/// the window after it, and not in the future.
fn deploying(updated: i64, now: std::time::SystemTime) -> bool {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    updated <= now + 60 && now - updated <= DEPLOY_WINDOW_SECS
}

/// What can be put back of a disarmed resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// Enabled, matching and delivering as recorded (created again when deleted).
    Rule {
        name: String,
        live: Option<RuleRecord>,
        record: Option<RuleRecord>,
    },
    /// Reserved concurrency back to the record, or unreserved.
    Concurrency {
        name: String,
        record: Option<FunctionRecord>,
    },
    /// Deletion cancelled and the key enabled.
    Key { live: KeyState },
}

/// A disarmed resource: what was found, and the repair.
#[derive(Debug, Clone, PartialEq)]
pub struct Disarmed {
    pub repair: Repair,
    pub findings: Vec<String>,
}

/// The guard-tourniquet remediation.
pub struct Guard {
    events: aws_sdk_eventbridge::Client,
    lambda: aws_sdk_lambda::Client,
    kms: aws_sdk_kms::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    sdk: SdkConfig,
    history: History,
    config: GuardConfig,
    /// Tourniquet's own account, and the member role that acts elsewhere.
    home: String,
    member_role: Option<String>,
    partition: String,
}

/// Who made the call behind a trigger, for the page.
fn who(ctx: &Context<'_>) -> String {
    match (ctx.actor, ctx.trigger) {
        (Some(p), Trigger::ApiCall(_, call)) => {
            format!("{} ({})", p.display_arn(), call.event_name)
        }
        (_, Trigger::Scheduled(_)) => "found by the audit".to_owned(),
        _ => "unknown".to_owned(),
    }
}

impl Guard {
    pub fn new(fw: &Framework, config: GuardConfig) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(&fw.sdk),
            lambda: aws_sdk_lambda::Client::new(&fw.sdk),
            kms: aws_sdk_kms::Client::new(&fw.sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&fw.sdk),
            sns: aws_sdk_sns::Client::new(&fw.sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(&fw.sdk),
            sdk: fw.sdk.clone(),
            history: fw.history.clone(),
            home: fw.members.home().account.clone(),
            member_role: fw.config.members.role_name.clone(),
            partition: fw.partition().to_owned(),
            config,
        }
    }

    /// A call in a member account: about the member stack, or about nothing of Tourniquet's
    /// (a resource of the same name there is someone else's).
    fn member_call(&self, account: &str, call: &ApiCall) -> Intake<Own> {
        let role = self.member_role.as_deref();
        match member::touched(call, role, &self.partition, account) {
            Some((arn, what)) => Intake::Cases(vec![Case {
                resource: arn,
                target: Own::Member(what),
            }]),
            None => Intake::Ignore(format!(
                "{} in account {account} names none of the member stack's resources",
                call.event_name
            )),
        }
    }

    /// Whether the call behind the trigger is this stack's deploy: made through
    /// CloudFormation while the stack was being created or updated. Unknown is no.
    async fn by_this_deploy(&self, ctx: &Context<'_>) -> bool {
        let Trigger::ApiCall(_, call) = ctx.trigger else {
            return false;
        };
        let (Some(CLOUDFORMATION), Some(stack)) =
            (call.source_ip.as_deref(), self.config.stack_name.as_deref())
        else {
            return false;
        };
        match self
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(out) => out
                .stacks()
                .first()
                .and_then(|s| s.last_updated_time().or(s.creation_time()))
                .is_some_and(|t| deploying(t.secs(), ctx.now)),
            Err(e) => {
                tracing::warn!(error = %sdk_message(&e), "the stack could not be read: the call is taken for tampering");
                false
            }
        }
    }

    /// A deploy changed the resource: what it is now is the record.
    async fn after_deploy(&self, own: &Own) -> Result<Verdict<Disarmed>, VerifyError> {
        let deployed = |record: Option<Value>| match record {
            Some(known_good) => Verdict::Healthy {
                reason: format!(
                    "{} changed by a deploy of the stack (recorded)",
                    own.describe()
                ),
                known_good,
            },
            None => Verdict::NothingToDo(format!(
                "{} changed by a deploy of the stack",
                own.describe()
            )),
        };
        Ok(match own {
            // A rule the deploy removed is recorded as removed, so that the audit does not
            // put it back (a record that is no rule reads as none).
            Own::Rule(name) => deployed(Some(
                match rules::read(&self.events, name).await.map_err(VerifyError)? {
                    Some(rule) => json!(rule),
                    None => json!({"removed_by_a_deploy": true}),
                },
            )),
            Own::Function(name) => deployed(
                lambdas::read(&self.lambda, name)
                    .await
                    .map_err(VerifyError)?
                    .map(|f| json!(f)),
            ),
            _ => deployed(None),
        })
    }

    /// Everything the guard watches: the rules delivering to the functions, the functions,
    /// the keys, the table and the topic.
    async fn audit(&self) -> Result<Intake<Own>, IntakeError> {
        let own = &self.config.own;
        let (delivering, recorded) = tokio::join!(
            rules::delivering_to(&self.events, &own.functions),
            self.history.baselines(rules::BASELINE)
        );
        let mut names = delivering.map_err(IntakeError::Unavailable)?;
        // A rule history knows is watched even when it delivers nowhere now.
        names.extend(recorded.unwrap_or_default().into_iter().map(|(n, _)| n));
        names.sort();
        names.dedup();
        let watched = names
            .into_iter()
            .map(Own::Rule)
            .chain(
                own.function_names()
                    .into_iter()
                    .map(|f| Own::Function(f.to_owned())),
            )
            .chain(own.keys.iter().cloned().map(Own::Key))
            .chain([Own::Table(own.table.clone()), Own::Topic(own.topic.clone())]);
        Ok(Intake::Cases(
            watched
                .map(|o| Case {
                    resource: o.resource(),
                    target: o,
                })
                .collect(),
        ))
    }

    /// What history recorded of a resource, if it reads as one.
    async fn recorded<T: DeserializeOwned>(&self, kind: &str, name: &str) -> Option<T> {
        let stored = self.history.baseline(kind, name).await.ok().flatten()?;
        serde_json::from_value(stored).ok()
    }

    /// Disarmed, and nothing to put back by itself: a person must act.
    fn page(&self, ctx: &Context<'_>, own: &Own, findings: &[String]) -> Verdict<Disarmed> {
        Verdict::Notice {
            severity: Severity::Critical,
            headline: format!("Tourniquet disarmed: {}", own.describe()),
            detail: format!(
                "{}, {}: {}. Tourniquet does not put this back by itself: check it against \
                 the stack and redeploy (sam deploy), then find what else the principal did.",
                own.describe(),
                who(ctx),
                findings.join("; ")
            ),
            facts: json!({"resource": own, "findings": findings, "by": who(ctx)}),
        }
    }

    /// What a call on the resource says by itself: any change that is not a deploy is
    /// tampering, whatever the live state shows now.
    fn call_finding(ctx: &Context<'_>, own: &Own) -> Option<String> {
        match ctx.trigger {
            Trigger::ApiCall(_, call) => Some(format!(
                "{} called {} on {} outside the stack",
                ctx.actor.map(|p| p.display_arn()).unwrap_or("someone"),
                call.event_name,
                own.describe()
            )),
            _ => None,
        }
    }

    fn repair(
        &self,
        own: &Own,
        before: Value,
        repair: Repair,
        findings: Vec<String>,
    ) -> Verdict<Disarmed> {
        Verdict::Act(Subject {
            before,
            summary: own.describe(),
            plan: findings.iter().map(|f| format!("undo: {f}")).collect(),
            undo: vec!["nothing to undo: the stack's own state was put back".to_owned()],
            next_steps: vec![
                "Find who else the principal is and what else it did: it tried to turn \
                 Tourniquet off, so it expected to need to."
                    .to_owned(),
                "Check every Tourniquet function, rule, key, table and topic against the stack \
                 (sam deploy shows the drift)."
                    .to_owned(),
            ],
            links: Vec::new(),
            subject: Disarmed { repair, findings },
        })
    }

    /// Healthy: the audit records it; an event that found nothing wrong live still pages.
    fn sound<T: Serialize>(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        record: Option<&T>,
    ) -> Verdict<Disarmed> {
        match (Self::call_finding(ctx, own), record) {
            (Some(f), _) => self.page(ctx, own, &[f]),
            (None, Some(r)) => Verdict::Healthy {
                reason: format!("{} is as deployed (recorded)", own.describe()),
                known_good: json!(r),
            },
            (None, None) => {
                Verdict::AlreadyRemediated(format!("{} is as deployed", own.describe()))
            }
        }
    }

    async fn verify_rule(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        name: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let (live, record) = tokio::join!(
            rules::read(&self.events, name),
            self.recorded::<RuleRecord>(rules::BASELINE, name)
        );
        let live = live.map_err(VerifyError)?;
        let ours = record.is_some()
            || live
                .as_ref()
                .is_some_and(|l| l.delivers_to(&self.config.own.functions));
        if !ours {
            return Ok(Verdict::NothingToDo(format!(
                "rule {name} is not Tourniquet's"
            )));
        }
        let findings = match &live {
            None => vec![format!("rule {name} deleted")],
            Some(l) => l.losses(record.as_ref()),
        };
        if findings.is_empty() {
            return Ok(self.sound(ctx, own, live.as_ref()));
        }
        let mut findings = findings;
        findings.extend(Self::call_finding(ctx, own));
        let repairable = record.is_some()
            || live.as_ref().is_some_and(|l| {
                l.state != aws_sdk_eventbridge::types::RuleState::Enabled.as_str()
            });
        if !repairable {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"rule": live});
        let repair = Repair::Rule {
            name: name.to_owned(),
            live,
            record,
        };
        Ok(self.repair(own, before, repair, findings))
    }

    async fn verify_function(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        name: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let (live, record) = tokio::join!(
            lambdas::read(&self.lambda, name),
            self.recorded::<FunctionRecord>(lambdas::BASELINE, name)
        );
        let Some(live) = live.map_err(VerifyError)? else {
            let mut findings = vec![format!("function {name} deleted")];
            findings.extend(Self::call_finding(ctx, own));
            return Ok(self.page(ctx, own, &findings));
        };
        let mut findings = live.losses(&self.config.settings);
        if findings.is_empty() {
            return Ok(self.sound(ctx, own, Some(&live)));
        }
        findings.extend(Self::call_finding(ctx, own));
        if !live.turned_off() {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"function": live});
        let repair = Repair::Concurrency {
            name: name.to_owned(),
            record,
        };
        Ok(self.repair(own, before, repair, findings))
    }

    async fn verify_key(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        id: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let kms = key::client_for(&self.sdk, &self.kms, id);
        let live = key::read(&kms, id).await;
        let enabled = enabled(&live);
        let findings = live.narrower_than(&enabled);
        if findings.is_empty() {
            return Ok(self.sound::<()>(ctx, own, None));
        }
        let mut findings = findings;
        findings.extend(Self::call_finding(ctx, own));
        if live.unreadable.is_some() {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"key": live});
        Ok(self.repair(own, before, Repair::Key { live }, findings))
    }

    /// The table and the topic: deleted or changed, a person must act.
    async fn verify_store(
        &self,
        ctx: &Context<'_>,
        own: &Own,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let gone = match own {
            Own::Table(t) => match self.dynamodb.describe_table().table_name(t).send().await {
                Ok(_) => None,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Some(format!("history table {t} deleted"))
                }
                Err(e) => return Err(VerifyError(format!("DescribeTable: {}", sdk_message(&e)))),
            },
            Own::Topic(t) => match self.sns.get_topic_attributes().topic_arn(t).send().await {
                Ok(_) => None,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) =>
                {
                    Some(format!("alert topic {t} deleted: notifications go nowhere"))
                }
                Err(e) => {
                    return Err(VerifyError(format!(
                        "GetTopicAttributes: {}",
                        sdk_message(&e)
                    )));
                }
            },
            _ => None,
        };
        let mut findings: Vec<String> = gone.into_iter().collect();
        findings.extend(Self::call_finding(ctx, own));
        if findings.is_empty() {
            return Ok(self.sound::<()>(ctx, own, None));
        }
        Ok(self.page(ctx, own, &findings))
    }
}

/// The state a Tourniquet key must have: enabled. Its policy is the stack's to keep.
fn enabled(live: &KeyState) -> KeyState {
    KeyState {
        state: "Enabled".to_owned(),
        policy: None,
        unreadable: None,
        ..live.clone()
    }
}

impl Remediation for Guard {
    type Target = Own;
    type Subject = Disarmed;

    fn action(&self) -> &'static str {
        "restore"
    }

    fn done(&self) -> &'static str {
        "restored"
    }

    /// A protected principal may change the stack on purpose: a human is told instead.
    fn counters_actor(&self) -> bool {
        true
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        None
    }

    /// Tourniquet's own resources are in its own account; in a member account the guard
    /// only reads the call and pages.
    fn acts_in_members(&self) -> bool {
        false
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Own>, IntakeError> {
        match trigger {
            Trigger::Scheduled(_) => self.audit().await,
            Trigger::ApiCall(e, call) if e.account != self.home => {
                Ok(self.member_call(&e.account, call))
            }
            Trigger::ApiCall(_, call) if call.error_code.is_some() => Ok(Intake::Ignore(format!(
                "the {} call failed: nothing changed",
                call.event_name
            ))),
            Trigger::ApiCall(_, call) => Ok(match self.config.own.named(call) {
                Some(own) => Intake::Cases(vec![Case {
                    resource: own.resource(),
                    target: own,
                }]),
                None => Intake::Ignore(format!(
                    "{} names none of Tourniquet's resources",
                    call.event_name
                )),
            }),
            _ => Ok(Intake::Ignore(
                "guard-tourniquet acts on API calls and its audit".into(),
            )),
        }
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Own>,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let own = &case.target;
        if let Own::Member(what) = own {
            return Ok(match ctx.trigger {
                Trigger::ApiCall(e, call) => member::disarmed(call, &who(ctx), what, &e.account),
                _ => self.page(ctx, own, &[]),
            });
        }
        if self.by_this_deploy(ctx).await {
            return self.after_deploy(own).await;
        }
        match own {
            Own::Rule(name) => self.verify_rule(ctx, own, name).await,
            Own::Function(name) => self.verify_function(ctx, own, function_name(name)).await,
            Own::Key(id) => self.verify_key(ctx, own, id).await,
            Own::Table(_) | Own::Topic(_) => self.verify_store(ctx, own).await,
            Own::Role(_) | Own::Member(_) => {
                let findings: Vec<String> = Self::call_finding(ctx, own).into_iter().collect();
                Ok(self.page(ctx, own, &findings))
            }
        }
    }

    /// The audit records the rules and functions as deployed.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Own>,
        verdict: &Verdict<Disarmed>,
    ) -> Result<(), String> {
        let Verdict::Healthy { known_good, .. } = verdict else {
            return Ok(());
        };
        let (kind, name) = match &case.target {
            Own::Rule(n) => (rules::BASELINE, n),
            Own::Function(n) => (lambdas::BASELINE, n),
            _ => return Ok(()),
        };
        self.history
            .put_baseline(kind, name, known_good, ctx.now)
            .await
            .map_err(|e| e.to_string())
    }

    /// Enabling a key is idempotent and only ever restores: done even when history, whose
    /// table the key encrypts, cannot be reached (a human is woken either way).
    fn safe_without_history(&self, d: &Disarmed) -> bool {
        matches!(d.repair, Repair::Key { .. })
    }

    async fn act(&self, ctx: &Context<'_>, _: &Case<Own>, d: &Disarmed) -> Vec<Step> {
        let mut steps = match &d.repair {
            Repair::Rule { name, live, record } => {
                rules::restore(&self.events, name, live.as_ref(), record.as_ref()).await
            }
            Repair::Concurrency { name, record } => {
                vec![lambdas::restore_concurrency(&self.lambda, name, record.as_ref()).await]
            }
            Repair::Key { live } => {
                let kms = key::client_for(&self.sdk, &self.kms, &live.id);
                key::heal(&kms, live, &enabled(live)).await
            }
        };
        // Put back or not, someone turned Tourniquet off: that pages.
        steps.push(Step::alarm(
            "disarmed",
            format!("{}: {}", who(ctx), d.findings.join("; ")),
        ));
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_call_through_cloudformation_is_a_deploy_within_the_hour_after_the_stack_changed() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(deploying(1_000_000 - 120, now));
        assert!(
            !deploying(1_000_000 - 2 * 3600, now),
            "a stack updated long ago"
        );
        assert!(!deploying(1_000_000 + 3600, now), "never from the future");
    }
}
