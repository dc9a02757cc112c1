//! The remediation pipeline, the same for every function:
//! decode → verify → dedupe → exempt → safeguard → record → act → record → notify.
//!
//! A function supplies a [`Remediation`]: how to find its cases in an event, how to check
//! one on the live resource, and how to act on it. Everything that makes acting safe lives
//! here, once: dedupe, exemptions, the safeguard, history before and after, dry run,
//! notifications and metrics.

use std::future::Future;
use std::time::SystemTime;

use aws_config::SdkConfig;
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};

use crate::clients::FrameworkClients;
use crate::config::{CommonConfig, ConfigError, Env};
use crate::events::{self, EventError, Principal, Trigger};
use crate::exempt::{Exemptions, PrincipalExemption};
use crate::history::{Claim, History, Incident, IncidentStatus, sdk_message};
use crate::metrics::{self, Counts};
use crate::notify::{Notification, Notifier, Severity};
use crate::safeguard::{Safeguard, SafeguardPolicy, SlotDecision};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot learn this function's own identity from STS GetCallerIdentity: {0}")]
    Identity(String),
}

/// Why an invocation answers with a function error (so that Lambda retries it and, in the
/// end, hands it to the on-failure destination).
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("rejected input: {0}")]
    Input(#[from] EventError),
    #[error("could not check the live state, nothing was changed, retry: {0}")]
    Retry(String),
}

/// What a remediation needs from the framework, built once per cold start.
#[derive(Debug, Clone)]
pub struct Framework {
    pub config: CommonConfig,
    pub sdk: SdkConfig,
    pub history: History,
    pub notifier: Notifier,
    pub exemptions: Exemptions,
    /// This function's own identity, as STS reports it.
    pub identity: String,
}

impl Framework {
    /// Reads the configuration, builds the clients and learns the function's own identity.
    pub async fn start(
        function: &'static str,
        env: &Env,
        sdk: SdkConfig,
    ) -> Result<Self, StartupError> {
        let config = CommonConfig::from_env(function, env)?;
        let clients = FrameworkClients::new(&sdk);
        let caller = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| StartupError::Identity(sdk_message(&e)))?;
        let identity = caller
            .arn()
            .ok_or_else(|| StartupError::Identity("the answer carries no ARN".into()))?
            .to_owned();
        Ok(Self {
            history: History::new(clients.dynamodb, config.history_table.clone()),
            notifier: Notifier::new(clients.sns, config.alert_topic_arn.clone(), function),
            exemptions: Exemptions::new(config.protected_principals.clone(), &identity),
            identity,
            sdk,
            config,
        })
    }

    /// A safeguard for `policy`, counting dry runs apart from real actions.
    pub fn safeguard(&self, policy: SafeguardPolicy) -> Safeguard {
        Safeguard::new(self.history.clone(), policy, self.config.dry_run)
    }

    pub fn function(&self) -> &'static str {
        self.config.function
    }

    /// The partition of this function's own identity (`aws`, `aws-cn`, `aws-us-gov`), for
    /// building ARNs.
    pub fn partition(&self) -> &str {
        self.identity
            .split(':')
            .nth(1)
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
    }
}

/// One resource to remediate, found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Case<T> {
    /// The resource's id, as history and notifications name it.
    pub resource: String,
    pub target: T,
}

/// What an event asks of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake<T> {
    Cases(Vec<Case<T>>),
    /// Nothing in this event concerns the function, and why.
    Ignore(String),
}

/// What the live state says about a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<S> {
    Act(Subject<S>),
    NothingToDo(String),
    AlreadyRemediated(String),
    /// The resource is exempt: nothing is done and a human is told.
    Exempt(String),
    /// Nothing is to be done, but a person should know (an offense below the threshold).
    Notice {
        severity: Severity,
        headline: String,
        detail: String,
        facts: Value,
    },
}

/// A live resource to act on, with what history keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject<S> {
    pub subject: S,
    /// The state before any change: enough to undo it.
    pub before: Value,
    /// One line that tells a person what this resource is.
    pub summary: String,
    /// What acting will do, step by step (what a dry run reports).
    pub plan: Vec<String>,
    /// How a person undoes the action.
    pub undo: Vec<String>,
}

/// The outcome of one step of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// A failure here leaves the incident dangerous: wake a human.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
}

impl Step {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            critical: false,
        }
    }
    pub fn failed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            critical: false,
        }
    }
    pub fn critical(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            critical: true,
            ..Self::failed(name, detail)
        }
    }
}

/// What the framework knows of the invocation, handed to the remediation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub framework: &'a Framework,
    pub trigger: &'a Trigger,
    pub delivery_id: &'a str,
    /// Who caused the event, when CloudTrail says.
    pub actor: Option<&'a Principal>,
    pub dry_run: bool,
    pub now: SystemTime,
}

/// Why the cases of an event could not be found.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Input(#[from] EventError),
    /// Listing what the event concerns failed: nothing was changed, a retry may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// Why a live check could not be made. Nothing has been changed when this is returned.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(pub String);

/// A countermeasure, plugged into the pipeline.
pub trait Remediation: Sync {
    type Target: Send + Sync;
    type Subject: Send + Sync;

    /// The verb, in history, notifications and metrics (`isolate`).
    fn action(&self) -> &'static str;
    /// The verb's past tense, for headlines (`isolated`).
    fn done(&self) -> &'static str;
    /// Whether a protected principal behind the event stops the action (true when the
    /// action counters what the principal did; false when the event is a request, like a
    /// `Tainted` tag, that anyone may make).
    fn counters_actor(&self) -> bool;
    fn safeguard(&self) -> Option<&Safeguard>;
    /// The severity of a notification when every step succeeded: what a person should do
    /// about a remediation that worked (a healed trail still means someone tampered with it).
    fn acted_severity(&self) -> Severity {
        Severity::Info
    }
    /// The cases in an event. Malformed parameters are an error; irrelevant ones an
    /// `Ignore`. May read AWS (a scheduled audit lists what to audit), never change it.
    fn intake(
        &self,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Intake<Self::Target>, IntakeError>> + Send;
    /// Checks a case against the live state. Must not change anything.
    fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Self::Target>,
    ) -> impl Future<Output = Result<Verdict<Self::Subject>, VerifyError>> + Send;
    /// Carries out the action. Independent steps run concurrently; a failing step does not
    /// stop the others that are still safe.
    fn act(
        &self,
        ctx: &Context<'_>,
        case: &Case<Self::Target>,
        subject: &Self::Subject,
    ) -> impl Future<Output = Vec<Step>> + Send;
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Remediated { steps: Vec<Step> },
    Partial { steps: Vec<Step> },
    DryRun { plan: Vec<String> },
    Held { reason: String },
    Exempt { reason: String },
    Duplicate,
    AlreadyRemediated { reason: String },
    NothingToDo { reason: String },
    Noticed { detail: String },
    Unverified { error: String },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Remediated { .. } => "remediated",
            Self::Partial { .. } => "partial",
            Self::DryRun { .. } => "dry-run",
            Self::Held { .. } => "held",
            Self::Exempt { .. } => "exempt",
            Self::Duplicate => "duplicate",
            Self::AlreadyRemediated { .. } => "already-remediated",
            Self::NothingToDo { .. } => "nothing-to-do",
            Self::Noticed { .. } => "noticed",
            Self::Unverified { .. } => "unverified",
        }
    }
}

/// The report of one case, part of the invocation's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    pub resource: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The severity of the notification sent, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<String>,
}

/// The answer of a handled invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub function: &'static str,
    pub delivery_id: String,
    pub trigger: String,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    pub cases: Vec<CaseReport>,
}

impl Summary {
    pub fn outcome_of(&self, resource: &str) -> Option<&Outcome> {
        self.cases
            .iter()
            .find(|c| c.resource == resource)
            .map(|c| &c.outcome)
    }
}

/// Handles one invocation end to end. Only input that cannot be processed, and live checks
/// that failed before anything changed, are errors; every other outcome is in the summary.
pub async fn handle<R: Remediation>(
    fw: &Framework,
    remediation: &R,
    payload: &Value,
    request_id: &str,
) -> Result<Summary, HandleError> {
    let trigger = events::decode(payload)?;
    let delivery_id = trigger.delivery_id(request_id);
    let actor = match &trigger {
        Trigger::ApiCall(_, call) => Some(&call.principal),
        _ => None,
    };
    let mut summary = Summary {
        function: fw.function(),
        delivery_id: delivery_id.clone(),
        trigger: trigger.describe(),
        dry_run: fw.config.dry_run,
        ignored: None,
        cases: Vec::new(),
    };
    if let Some(PrincipalExemption::OwnRole) = actor.and_then(|a| fw.exemptions.check(a)) {
        summary.ignored = Some("caused by this function's own role".into());
        return Ok(summary);
    }
    let intake = remediation.intake(&trigger).await.map_err(|e| match e {
        IntakeError::Input(e) => HandleError::Input(e),
        IntakeError::Unavailable(e) => HandleError::Retry(e),
    })?;
    let cases = match intake {
        Intake::Ignore(reason) => {
            summary.ignored = Some(reason);
            return Ok(summary);
        }
        Intake::Cases(cases) => cases,
    };
    let ctx = Context {
        framework: fw,
        trigger: &trigger,
        delivery_id: &delivery_id,
        actor,
        dry_run: fw.config.dry_run,
        now: SystemTime::now(),
    };
    summary.cases = join_all(cases.iter().map(|case| run_case(&ctx, remediation, case))).await;

    let mut counts = Counts::default();
    for case in &summary.cases {
        match case.outcome {
            Outcome::Remediated { .. } => counts.taken += 1,
            Outcome::Partial { .. } => {
                counts.taken += 1;
                counts.failed += 1;
            }
            Outcome::Held { .. } | Outcome::Exempt { .. } => counts.held += 1,
            Outcome::Unverified { .. } => counts.failed += 1,
            _ => {}
        }
        if case.notify_error.is_some() {
            counts.failed += 1;
        }
        tracing::info!(
            resource = %case.resource,
            outcome = case.outcome.name(),
            notified = ?case.notified,
            "case handled"
        );
    }
    metrics::emit(fw.function(), counts);

    let unverified: Vec<String> = summary
        .cases
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Unverified { error } => Some(format!("{}: {error}", c.resource)),
            _ => None,
        })
        .collect();
    if !unverified.is_empty() {
        return Err(HandleError::Retry(unverified.join("; ")));
    }
    Ok(summary)
}

/// One case through the pipeline. Never fails: every failure is an outcome.
async fn run_case<R: Remediation>(ctx: &Context<'_>, r: &R, case: &Case<R::Target>) -> CaseReport {
    let fw = ctx.framework;
    let function = fw.function();
    let report = |outcome| CaseReport {
        resource: case.resource.clone(),
        outcome,
        notified: None,
        notify_error: None,
    };

    // The first round: verify, dedupe and survey the safeguard's slots together. None of
    // them changes anything that matters if the case turns out to need nothing (the claim is
    // a key nobody else uses), and together they cost one round trip.
    let holder = format!("{function}:{}:{}", ctx.delivery_id, case.resource);
    let (claim, verdict, survey) = tokio::join!(
        fw.history
            .claim_delivery(function, ctx.delivery_id, &case.resource, ctx.now),
        r.verify(ctx, case),
        async {
            match r.safeguard() {
                Some(sg) => Some(sg.survey(&holder, ctx.now).await),
                None => None,
            }
        }
    );
    match claim {
        Ok(Claim::First) => {}
        Ok(Claim::Duplicate) => return report(Outcome::Duplicate),
        Err(e) => {
            let held = Outcome::Held {
                reason: format!("cannot deduplicate, failing closed: {e}"),
            };
            return notify(ctx, r, case, None, report(held)).await;
        }
    }
    let verdict = match verdict {
        Ok(v) => v,
        Err(e) => {
            // Nothing changed: give the claim back so that Lambda's retry can act.
            if let Err(release) = fw
                .history
                .release_delivery(function, ctx.delivery_id, &case.resource)
                .await
            {
                tracing::error!(error = %release, "could not release the dedupe claim");
            }
            return report(Outcome::Unverified { error: e.0 });
        }
    };
    let subject = match verdict {
        Verdict::Act(subject) => subject,
        Verdict::NothingToDo(reason) => return report(Outcome::NothingToDo { reason }),
        Verdict::AlreadyRemediated(reason) => {
            return report(Outcome::AlreadyRemediated { reason });
        }
        Verdict::Exempt(reason) => {
            return notify(ctx, r, case, None, report(Outcome::Exempt { reason })).await;
        }
        Verdict::Notice {
            severity,
            headline,
            detail,
            facts,
        } => {
            let n = Notification {
                severity,
                action: "notice".to_owned(),
                resource: case.resource.clone(),
                headline,
                body: vec![
                    detail.clone(),
                    format!("Trigger: {}.", ctx.trigger.describe()),
                ],
                facts,
            };
            return send(fw, &n, report(Outcome::Noticed { detail })).await;
        }
    };
    if r.counters_actor()
        && let Some(PrincipalExemption::Protected(pattern)) =
            ctx.actor.and_then(|a| fw.exemptions.check(a))
    {
        let reason = format!(
            "{} is a protected principal ({pattern})",
            ctx.actor.map(Principal::display_arn).unwrap_or_default()
        );
        return notify(
            ctx,
            r,
            case,
            Some(&subject),
            report(Outcome::Exempt { reason }),
        )
        .await;
    }

    // The second round: record before acting, and take the safeguard slot at the same time.
    let incident = Incident {
        function: function.to_owned(),
        action: r.action().to_owned(),
        resource: case.resource.clone(),
        delivery_id: ctx.delivery_id.to_owned(),
        trigger: ctx.trigger.describe(),
        actor: ctx.actor.map(|a| a.display_arn().to_owned()),
        opened_at: ctx.now,
        before: subject.before.clone(),
    };
    let opening = if ctx.dry_run {
        IncidentStatus::DryRun
    } else {
        IncidentStatus::InProgress
    };
    let (slot, recorded) = tokio::join!(
        async {
            match (r.safeguard(), survey) {
                (Some(sg), Some(survey)) => sg.claim(survey, &holder, ctx.now).await,
                _ => SlotDecision::Granted { slot: 0 },
            }
        },
        fw.history.open_incident(&incident, opening)
    );
    if let Err(e) = recorded {
        let held = Outcome::Held {
            reason: format!("cannot record the state before acting, failing closed: {e}"),
        };
        return notify(ctx, r, case, Some(&subject), report(held)).await;
    }
    if let SlotDecision::Refused { reason } = slot {
        let outcome = Outcome::Held { reason };
        close(ctx, &incident, IncidentStatus::Held, &outcome).await;
        return notify(ctx, r, case, Some(&subject), report(outcome)).await;
    }
    if ctx.dry_run {
        let outcome = Outcome::DryRun {
            plan: subject.plan.clone(),
        };
        close(ctx, &incident, IncidentStatus::DryRun, &outcome).await;
        return notify(ctx, r, case, Some(&subject), report(outcome)).await;
    }

    let steps = r.act(ctx, case, &subject.subject).await;
    let (status, outcome) = if steps.iter().all(|s| s.ok) {
        (IncidentStatus::Remediated, Outcome::Remediated { steps })
    } else if steps.iter().any(|s| s.ok) {
        (IncidentStatus::Partial, Outcome::Partial { steps })
    } else {
        (IncidentStatus::Failed, Outcome::Partial { steps })
    };
    let (_, report) = tokio::join!(
        close(ctx, &incident, status, &outcome),
        notify(ctx, r, case, Some(&subject), report(outcome.clone()))
    );
    report
}

/// Records an incident's outcome; a failure is logged, since the action already happened.
async fn close(ctx: &Context<'_>, incident: &Incident, status: IncidentStatus, outcome: &Outcome) {
    let detail = serde_json::to_value(outcome).unwrap_or(Value::Null);
    if let Err(e) = ctx
        .framework
        .history
        .close_incident(incident, status, &detail, SystemTime::now())
        .await
    {
        tracing::error!(error = %e, resource = %incident.resource, "could not record the outcome");
    }
}

/// The notification for an outcome, then sent.
async fn notify<R: Remediation>(
    ctx: &Context<'_>,
    r: &R,
    case: &Case<R::Target>,
    subject: Option<&Subject<R::Subject>>,
    report: CaseReport,
) -> CaseReport {
    let verbs = Verbs {
        action: r.action(),
        done: r.done(),
        acted: r.acted_severity(),
    };
    let n = compose(ctx, verbs, &case.resource, subject, &report.outcome);
    send(ctx.framework, &n, report).await
}

async fn send(fw: &Framework, n: &Notification, mut report: CaseReport) -> CaseReport {
    match fw.notifier.send(n).await {
        Ok(()) => report.notified = Some(n.severity),
        Err(e) => {
            tracing::error!(error = %e, resource = %n.resource, "notification failed");
            report.notify_error = Some(e.to_string());
        }
    }
    report
}

fn step_lines(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            let state = match (s.ok, s.critical) {
                (true, _) => "ok",
                (false, false) => "FAILED",
                (false, true) => "FAILED (critical)",
            };
            format!("  - {}: {state} - {}", s.name, s.detail)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a remediation speaks of itself in notifications.
#[derive(Debug, Clone, Copy)]
pub struct Verbs {
    pub action: &'static str,
    pub done: &'static str,
    pub acted: Severity,
}

/// Writes the notification of an outcome, for a person first.
pub fn compose<S>(
    ctx: &Context<'_>,
    verbs: Verbs,
    resource: &str,
    subject: Option<&Subject<S>>,
    outcome: &Outcome,
) -> Notification {
    let Verbs {
        action,
        done,
        acted,
    } = verbs;
    let trigger = ctx.trigger.describe();
    let mut body = vec![format!("What happened: {trigger}.")];
    if let Some(s) = subject {
        body.push(format!("Resource: {}.", s.summary));
    }
    let (severity, notice_action, headline) = match outcome {
        Outcome::Remediated { steps } | Outcome::Partial { steps } => {
            body.push(format!("What was done:\n{}", step_lines(steps)));
            let severity = if steps.iter().any(|s| !s.ok && s.critical) {
                Severity::Critical
            } else if steps.iter().any(|s| !s.ok) {
                Severity::Warning
            } else {
                acted
            };
            let failed = steps.iter().filter(|s| !s.ok).count();
            let headline = if failed == 0 {
                format!("{done} {resource}")
            } else {
                format!("{done} {resource}, {failed} step(s) failed")
            };
            (severity, action.to_owned(), headline)
        }
        Outcome::DryRun { plan } => {
            body.push(format!(
                "DRY RUN: nothing was changed. It would have:\n{}",
                plan.iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            (
                Severity::Info,
                format!("{action}-dry-run"),
                format!("dry run: would have {done} {resource}"),
            )
        }
        Outcome::Held { reason } => {
            body.push(format!(
                "Nothing was done: {reason}. A person must decide whether to {action} {resource}."
            ));
            (
                Severity::Critical,
                "held".to_owned(),
                format!("held, not {done}: {resource}"),
            )
        }
        Outcome::Exempt { reason } => {
            body.push(format!(
                "Nothing was done: {reason}. A person must decide whether to {action} {resource}."
            ));
            (
                Severity::Critical,
                "exempt".to_owned(),
                format!("exempt, not {done}: {resource}"),
            )
        }
        other => (
            Severity::Info,
            other.name().to_owned(),
            format!("{} {resource}", other.name()),
        ),
    };
    if let (Some(s), Outcome::Remediated { .. } | Outcome::Partial { .. }) = (subject, outcome)
        && !s.undo.is_empty()
    {
        body.push(format!(
            "To undo, once the investigation allows:\n{}",
            s.undo
                .iter()
                .map(|u| format!("  - {u}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let facts = json!({
        "delivery_id": ctx.delivery_id,
        "trigger": trigger,
        "actor": ctx.actor.map(Principal::display_arn),
        "dry_run": ctx.dry_run,
        "outcome": outcome,
        "summary": subject.map(|s| s.summary.as_str()),
        "undo": subject.map(|s| &s.undo),
    });
    Notification {
        severity,
        action: notice_action,
        resource: resource.to_owned(),
        headline,
        body,
        facts,
    }
}
