//! The run of one event through the stages, the same for every function:
//! decode → lock and verify → exempt → safeguard and record → act → record → notify.
//!
//! The first round opens the incident lock (or joins the open incident, or resumes an
//! abandoned one), checks the live state and surveys the safeguard's slots, all at once. The
//! second takes the slot and records the state before. Only then does anything change.
//! History and notifications are reached through [`Ledger`] and [`Pager`], so that these
//! decisions are tested without AWS.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::contract::{
    Case, CaseReport, Context, Intake, IntakeError, Outcome, Remediation, Step, Subject, Summary,
    Verdict, VerifyError,
};
use crate::events::{self, EventError, Principal, Trigger};
use crate::exempt::PrincipalExemption;
use crate::framework::Framework;
use crate::history::{Incident, IncidentStatus};
use crate::ledger::{LEASE_MARGIN, Ledger, Lock, LockRequest, OpenIncident};
use crate::members::{Refusal, Scope};
use crate::metrics::{self, Counts};
use crate::notify::Pager;
use crate::notify::held::HeldBuffer;
use crate::notify::report::{Verbs, compose};
use crate::notify::unsent::Unsent;
use crate::notify::{Notification, Severity};
use crate::refused;
use crate::safeguard::{SlotDecision, Survey};
use crate::trust;

/// Why an invocation answers with a function error (so that Lambda retries it and, in the
/// end, hands it to the on-failure destination).
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("rejected input: {0}")]
    Input(#[from] EventError),
    #[error("could not check the live state, nothing was changed, retry: {0}")]
    Retry(String),
    #[error("out of time before the action was confirmed, the incident stays open: {0}")]
    Unfinished(String),
}

impl HandleError {
    /// The error's name in Lambda's `errorType`, as a person reads it in a dead-letter queue.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Input(_) => "RejectedInput",
            Self::Retry(_) => "RetryLater",
            Self::Unfinished(_) => "UnfinishedRetryResumes",
        }
    }
}

impl From<HandleError> for lambda_runtime::Diagnostic {
    fn from(e: HandleError) -> Self {
        Self {
            error_type: e.kind().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Cases of one event handled at once.
const CONCURRENT_CASES: usize = 16;

/// Time kept back from the deadline to record and notify after acting.
pub const RESERVE: Duration = Duration::from_secs(2);
/// The longest a Lambda invocation can run, for a lease when no deadline is known.
const LONGEST_INVOCATION: Duration = Duration::from_secs(900);

/// Handles one invocation with no deadline known (tests, direct calls).
pub async fn handle<R: Remediation>(
    fw: &Framework,
    remediation: &R,
    payload: &Value,
    request_id: &str,
) -> Result<Summary, HandleError> {
    handle_until(fw, remediation, payload, request_id, None).await
}

/// Handles one invocation that is killed at `deadline`, over the table and the topic.
pub async fn handle_until<R: Remediation>(
    fw: &Framework,
    remediation: &R,
    payload: &Value,
    request_id: &str,
    deadline: Option<SystemTime>,
) -> Result<Summary, HandleError> {
    let run = Run {
        fw,
        ledger: &fw.history,
        pager: &fw.notifier,
    };
    run.handle(remediation, payload, request_id, deadline).await
}

/// One invocation's view of the framework, its history and its pager.
pub struct Run<'a, L, P> {
    pub fw: &'a Framework,
    pub ledger: &'a L,
    pub pager: &'a P,
}

/// The first round's answers for an incident this trigger opened (or took over).
struct Opened<S> {
    incident: Incident,
    /// The last incident that remediated this resource, from the lock.
    remediated: Option<String>,
    verdict: Result<Verdict<S>, VerifyError>,
    survey: Option<Survey>,
    resumed: bool,
}

fn report(case: &str, outcome: Outcome, resumed: bool) -> CaseReport {
    CaseReport {
        resource: case.to_owned(),
        outcome,
        resumed,
        notified: None,
        notify_error: None,
    }
}

/// The safeguard holder of a resource: one resource takes one slot per window, however many
/// incidents, sessions or invocations it takes (decoys cannot drain the safeguard).
fn holder(function: &str, resource: &str) -> String {
    format!("{function}:{resource}")
}

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// Handles one invocation end to end. Only input that cannot be processed, live checks
    /// that failed before anything changed, and actions cut short by the deadline are
    /// errors; every other outcome is in the summary.
    pub async fn handle<R: Remediation>(
        &self,
        r: &R,
        payload: &Value,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Summary, HandleError> {
        let fw = self.fw;
        let trigger = events::decode(payload)?;
        let delivery_id = trigger.delivery_id(request_id);
        if let Err(forgery) = trust::admit(&trigger, SystemTime::now()) {
            return self.reject_forgery(forgery, &trigger, &delivery_id).await;
        }
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
            upkeep: Vec::new(),
        };
        let own = actor.is_some_and(|a| {
            fw.exemptions.check(a) == Some(PrincipalExemption::OwnRole)
                || trigger
                    .envelope()
                    .is_some_and(|e| fw.members.own_session(a, &e.account))
        });
        if own {
            summary.ignored = Some("caused by one of Tourniquet's own roles".into());
            return Ok(summary);
        }
        let scope = fw.members.scope_of(&trigger);
        let gate = if r.acts_in_members() {
            fw.members.enter(&scope).await
        } else {
            Ok(())
        };
        if let Err(refusal) = gate {
            return self
                .refuse(r, &trigger, &delivery_id, &scope, refusal, summary)
                .await;
        }
        let ctx = Context {
            framework: fw,
            trigger: &trigger,
            delivery_id: &delivery_id,
            incident: &delivery_id,
            actor,
            dry_run: fw.config.dry_run,
            now: SystemTime::now(),
            deadline,
        };
        if matches!(trigger, Trigger::Sweep) {
            // What the sweep could not send is kept too, for the next one.
            let unsent = Unsent::new(self.pager);
            let run = Run {
                fw: self.fw,
                ledger: self.ledger,
                pager: &unsent,
            };
            let (cases, upkeep, resent) =
                tokio::join!(run.sweep(&ctx, r), run.upkeep(&ctx, r), run.resend_kept(r));
            summary.cases = cases?;
            summary.cases.extend(resent);
            summary.upkeep = upkeep;
            if summary.cases.is_empty() {
                summary.ignored = Some("no abandoned incident".into());
            }
            let kept = self.keep_for_retry(r, unsent.refused()).await;
            return finish(fw, summary, false).and_then(|s| kept.map(|()| s));
        }
        let intake = r.intake(&trigger).await.map_err(|e| match e {
            IntakeError::Input(e) => HandleError::Input(e),
            IntakeError::Unavailable(e) => HandleError::Retry(e),
        })?;
        let cases = match intake {
            Intake::Ignore(reason) => {
                summary.ignored = Some(reason);
                // An audit with nothing to audit still ran: its heartbeat counts it.
                let audit = matches!(trigger, Trigger::Scheduled(_));
                return if audit {
                    finish(fw, summary, audit)
                } else {
                    Ok(summary)
                };
            }
            Intake::Cases(cases) => cases,
            Intake::Some { cases, skipped } => {
                summary.ignored = Some(skipped);
                cases
            }
        };
        // At most CONCURRENT_CASES at a time: an event may name 1000 instances, and AWS
        // throttles a burst of reads long before that.
        let unsent = Unsent::new(self.pager);
        let held = HeldBuffer::new(&unsent);
        let run = Run {
            fw: self.fw,
            ledger: self.ledger,
            pager: &held,
        };
        summary.cases = stream::iter(cases.iter())
            .map(|case| run.run_case(&ctx, r, case))
            .buffered(CONCURRENT_CASES)
            .collect()
            .await;
        for (resource, error) in held.flush(fw.function()).await {
            for case in summary.cases.iter_mut().filter(|c| c.resource == resource) {
                case.notify_error = Some(error.clone());
            }
        }
        // Kept before anything else can end the invocation: whatever makes Lambda retry, the
        // retry sends them.
        let kept = self.keep_for_retry(r, unsent.refused()).await;
        let audit = matches!(trigger, Trigger::Scheduled(_));
        let summary = finish(fw, summary, audit)?;
        kept.map(|()| summary)
    }

    /// A forged event: nothing is changed or counted, a person is told. Answered normally, so
    /// that Lambda does not retry it, unless nobody could be told. The future is built on the
    /// heap here, not in `handle`'s frame, which debug builds keep near the stack's limit.
    fn reject_forgery<'s>(
        &'s self,
        forgery: trust::Forgery,
        trigger: &'s Trigger,
        delivery_id: &'s str,
    ) -> Pin<Box<dyn Future<Output = Result<Summary, HandleError>> + Send + 's>>
    where
        L: Sync,
        P: Sync,
    {
        Box::pin(async move { self.tell_forgery(&forgery, trigger, delivery_id).await })
    }

    async fn tell_forgery(
        &self,
        forgery: &trust::Forgery,
        trigger: &Trigger,
        delivery_id: &str,
    ) -> Result<Summary, HandleError> {
        let fw = self.fw;
        tracing::warn!(source = %forgery.claimed_source, why = %forgery.why, "forged event ignored");
        let n = trust::notice(forgery, delivery_id, fw.function());
        let noticed = Outcome::Noticed {
            detail: forgery.to_string(),
        };
        let report = self.send(&n, report(&n.resource, noticed, false)).await;
        if let Some(error) = &report.notify_error {
            return Err(HandleError::Retry(format!(
                "a forged event was ignored and nobody could be told: {error}"
            )));
        }
        Ok(Summary {
            function: fw.function(),
            delivery_id: delivery_id.to_owned(),
            trigger: trigger.describe(),
            dry_run: fw.config.dry_run,
            ignored: Some(format!("forged: {forgery}")),
            cases: vec![report],
            upkeep: Vec::new(),
        })
    }

    /// An event of an account Tourniquet may not act in: nothing is changed, a person is
    /// told. A refusal that may pass (STS throttled or silent) is retried instead: Lambda
    /// retries, and the failed-events alarm pages if every retry fails.
    async fn refuse<R: Remediation>(
        &self,
        r: &R,
        trigger: &Trigger,
        delivery_id: &str,
        scope: &Scope,
        refusal: Refusal,
        mut summary: Summary,
    ) -> Result<Summary, HandleError> {
        if refusal.transient() {
            return Err(HandleError::Retry(refusal.to_string()));
        }
        let n = refused::notice(
            trigger,
            delivery_id,
            scope,
            &refusal,
            r.threatening(trigger),
        );
        summary.ignored = Some(format!("not acted on: {refusal}"));
        let noticed = Outcome::Noticed {
            detail: refusal.to_string(),
        };
        let report = self.send(&n, report(&n.resource, noticed, false)).await;
        if let Some(error) = &report.notify_error {
            return Err(HandleError::Retry(format!(
                "an event of {} was refused and nobody could be told: {error}",
                scope.describe()
            )));
        }
        summary.cases.push(report);
        Ok(summary)
    }

    /// The lease of an incident opened or taken over now: the deadline, plus a margin.
    fn lease_until(ctx: &Context<'_>) -> SystemTime {
        ctx.deadline.unwrap_or(ctx.now + LONGEST_INVOCATION) + LEASE_MARGIN
    }

    /// The safeguard's windows for a case: its account's (from its key) and the ceiling.
    /// Boxed, in a frame of its own: it is polled inside the first round's join, deep in the
    /// pipeline, where debug builds are near the test threads' stack.
    fn survey<'s, R: Remediation>(
        &'s self,
        r: &'s R,
        resource: &str,
        holder: &'s str,
        now: SystemTime,
    ) -> Pin<Box<dyn Future<Output = Option<Survey>> + Send + 's>> {
        let account = self.fw.members.scope_of_key(resource).account;
        Box::pin(async move {
            match r.safeguard() {
                Some(sg) => Some(sg.survey(&account, holder, now).await),
                None => None,
            }
        })
    }

    /// One case: open, join or resume its incident. Never fails: every failure is an outcome.
    async fn run_case<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
    ) -> CaseReport {
        let function = self.fw.function();
        let incident_id = Incident::key(ctx.now, ctx.delivery_id);
        let target = serde_json::to_value(&case.target).unwrap_or(Value::Null);
        let request = LockRequest {
            action: r.action(),
            resource: &case.resource,
            function,
            delivery: ctx.delivery_id,
            incident: &incident_id,
            target: &target,
            now: ctx.now,
            lease_until: Self::lease_until(ctx),
        };
        let holder = holder(function, &case.resource);
        let (lock, verdict, survey) = tokio::join!(
            self.ledger.lock(&request),
            r.verify(ctx, case),
            self.survey(r, &case.resource, &holder, ctx.now)
        );
        match lock {
            Err(e) => {
                self.without_history(ctx, r, case, verdict, e.to_string())
                    .await
            }
            Ok(Lock::Duplicate { unsent: None }) => {
                report(&case.resource, Outcome::Duplicate, false)
            }
            Ok(Lock::Duplicate { unsent: Some(kept) }) => {
                self.resend(r, &case.resource, &kept).await
            }
            Ok(Lock::Joined { incident }) => self.join(ctx, r, case, incident, verdict).await,
            // Boxed: the stages' futures are large, and a case's future lives on the stack.
            Ok(Lock::Stale(held)) => Box::pin(self.resume(ctx, r, case, held, survey)).await,
            Ok(Lock::Opened { remediated }) => {
                let incident = self.incident(ctx, r, case, incident_id, ctx.delivery_id);
                let opened = Opened {
                    incident,
                    remediated,
                    verdict,
                    survey,
                    resumed: false,
                };
                Box::pin(self.proceed(ctx, r, case, opened)).await
            }
        }
    }

    /// History cannot be reached: nothing can be locked or recorded. Fail closed, except for
    /// an action that is safe without history, which is taken; either way a human is woken.
    async fn without_history<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        verdict: Result<Verdict<R::Subject>, VerifyError>,
        error: String,
    ) -> CaseReport {
        let subject = match verdict {
            Ok(Verdict::Act(subject))
                if !ctx.dry_run && r.safe_without_history(&subject.subject) =>
            {
                subject
            }
            _ => {
                let held = Outcome::Held {
                    reason: format!("cannot open the incident, failing closed: {error}"),
                };
                return self
                    .notify(ctx, r, case, None, report(&case.resource, held, false))
                    .await;
            }
        };
        let mut steps = act_in_time(ctx, r, case, &subject.subject)
            .await
            .unwrap_or_else(|| vec![Step::critical("act", "out of time before it was confirmed")]);
        steps.push(Step::critical(
            "history",
            format!("history unreachable, nothing recorded and no baseline read: {error}"),
        ));
        let outcome = Outcome::Partial { steps };
        self.notify(
            ctx,
            r,
            case,
            Some(&subject),
            report(&case.resource, outcome, false),
        )
        .await
    }

    fn incident<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        id: String,
        delivery: &str,
    ) -> Incident {
        Incident {
            id,
            function: self.fw.function().to_owned(),
            action: r.action().to_owned(),
            resource: case.resource.clone(),
            delivery_id: delivery.to_owned(),
            trigger: ctx.trigger.describe(),
            actor: ctx.actor.map(|a| a.display_arn().to_owned()),
            opened_at: ctx.now,
            before: Value::Null,
        }
    }

    /// Another trigger's incident is open: this delivery's own history is kept, nothing else.
    async fn join<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: String,
        verdict: Result<Verdict<R::Subject>, VerifyError>,
    ) -> CaseReport {
        if let Ok(v) = &verdict
            && let Err(e) = r.record(ctx, case, v).await
        {
            let error = format!("joined incident {incident} but could not record: {e}");
            return report(&case.resource, Outcome::Unverified { error }, false);
        }
        if let Err(e) = self
            .ledger
            .join(r.action(), &case.resource, &incident, ctx.delivery_id)
            .await
        {
            tracing::warn!(error = %e, %incident, "could not note the joining delivery");
        }
        report(&case.resource, Outcome::Joined { incident }, false)
    }

    /// An incident whose invocation died: take it over and finish it from the state recorded
    /// when it opened.
    async fn resume<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        held: OpenIncident,
        survey: Option<Survey>,
    ) -> CaseReport {
        let action = r.action();
        match self
            .ledger
            .take_over(action, &case.resource, &held, Self::lease_until(ctx))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let joined = Outcome::Joined {
                    incident: held.incident,
                };
                return report(&case.resource, joined, false);
            }
            Err(e) => {
                let error = format!("cannot take over abandoned incident {}: {e}", held.incident);
                return self.abandoned(ctx, action, &case.resource, error).await;
            }
        }
        let ctx = Context {
            incident: &held.delivery,
            ..*ctx
        };
        let ctx = &ctx;
        let mut incident = self.incident(ctx, r, case, held.incident.clone(), &held.delivery);
        let verdict = match self.ledger.incident(&case.resource, &held.incident).await {
            Err(e) => {
                let error = format!("cannot read abandoned incident {}: {e}", held.incident);
                return self.abandoned(ctx, action, &case.resource, error).await;
            }
            // Nothing was recorded, so nothing was changed: check again from the start.
            Ok(None) => r.verify(ctx, case).await,
            Ok(Some(record)) if record.status != IncidentStatus::InProgress.as_str() => {
                self.release(r, &case.resource, &held.incident, &record.status, false)
                    .await;
                let reason = format!("incident {} was closed as {}", held.incident, record.status);
                return report(&case.resource, Outcome::AlreadyRemediated { reason }, false);
            }
            Ok(Some(record)) => {
                incident.trigger = record.trigger;
                r.resume(ctx, case, &record.before).await
            }
        };
        let opened = Opened {
            incident,
            remediated: None,
            verdict,
            survey,
            resumed: true,
        };
        Box::pin(self.proceed(ctx, r, case, opened)).await
    }

    /// An abandoned incident that cannot be resumed now: a person must look, and the lease
    /// runs out again for the next try.
    async fn abandoned(
        &self,
        ctx: &Context<'_>,
        action: &str,
        resource: &str,
        error: String,
    ) -> CaseReport {
        let n = Notification {
            severity: Severity::Critical,
            action: "resume-failed".to_owned(),
            resource: resource.to_owned(),
            headline: format!("cannot resume {action} of {resource}"),
            body: vec![
                format!(
                    "An incident for {resource} was left open by an invocation that died, and it \
                     cannot be resumed now: {error}. Its changes may be half done: check the \
                     resource now. The sweep tries again."
                ),
                format!("Trigger: {}.", ctx.trigger.describe()),
            ],
            next_steps: vec![
                format!("Check {resource} now: its {action} may be half done."),
                format!("Find why the incident cannot be resumed: {error}."),
            ],
            incident: ctx.incident.to_owned(),
            facts: serde_json::json!({"resource": resource, "error": error}),
            ..Notification::default()
        };
        self.send(&n, report(resource, Outcome::Unverified { error }, true))
            .await
    }

    /// From an open incident and a live verdict to the end: exempt, safeguard and record,
    /// act, record, notify.
    async fn proceed<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        opened: Opened<R::Subject>,
    ) -> CaseReport {
        let Opened {
            mut incident,
            remediated,
            verdict,
            survey,
            resumed,
        } = opened;
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => return self.give_back(ctx, r, case, &incident, e.0, resumed).await,
        };
        let Verdict::Act(subject) = &verdict else {
            return self
                .conclude(ctx, r, case, &incident, &verdict, resumed)
                .await;
        };
        if let (Some(why), Some(by)) = (r.settled(&subject.subject), &remediated) {
            let settled = Verdict::AlreadyRemediated(format!("{why}; incident {by} remediated it"));
            return self
                .conclude(ctx, r, case, &incident, &settled, resumed)
                .await;
        }
        let report = |outcome| report(&case.resource, outcome, resumed);
        if r.counters_actor()
            && let Some(PrincipalExemption::Protected(pattern)) =
                ctx.actor.and_then(|a| self.fw.exemptions.check(a))
        {
            let reason = format!(
                "{} is a protected principal ({pattern})",
                ctx.actor.map(Principal::display_arn).unwrap_or_default()
            );
            self.release(r, &case.resource, &incident.id, "exempt", false)
                .await;
            return self
                .notify(
                    ctx,
                    r,
                    case,
                    Some(subject),
                    report(Outcome::Exempt { reason }),
                )
                .await;
        }

        // The second round: take the safeguard slot and record before acting, at once.
        incident.before = subject.before.clone();
        let opening = if ctx.dry_run {
            IncidentStatus::DryRun
        } else {
            IncidentStatus::InProgress
        };
        let holder = holder(self.fw.function(), &case.resource);
        let (slot, recorded, noted) = tokio::join!(
            async {
                match (r.safeguard(), survey) {
                    (Some(_), Some(s)) if s.held_by(&holder) => SlotDecision::Granted { slot: 0 },
                    (Some(sg), Some(s)) => sg.claim(s, &holder, ctx.now).await,
                    _ => SlotDecision::Granted { slot: 0 },
                }
            },
            self.ledger.open_incident(&incident, opening),
            r.record(ctx, case, &verdict)
        );
        let recorded_ok = recorded.is_ok();
        if let Some(e) = recorded.err().map(|e| e.to_string()).or(noted.err()) {
            let held = Outcome::Held {
                reason: format!("cannot record before acting, failing closed: {e}"),
            };
            if recorded_ok {
                self.close(r, &incident, IncidentStatus::Held, &held).await;
            } else {
                self.release(r, &case.resource, &incident.id, "held", false)
                    .await;
            }
            return self.notify(ctx, r, case, Some(subject), report(held)).await;
        }
        if let SlotDecision::Refused { reason } = slot {
            let outcome = Outcome::Held { reason };
            self.close(r, &incident, IncidentStatus::Held, &outcome)
                .await;
            return self
                .notify(ctx, r, case, Some(subject), report(outcome))
                .await;
        }
        if ctx.dry_run {
            let outcome = Outcome::DryRun {
                plan: subject.plan.clone(),
            };
            self.close(r, &incident, IncidentStatus::DryRun, &outcome)
                .await;
            return self
                .notify(ctx, r, case, Some(subject), report(outcome))
                .await;
        }

        let Some(steps) = act_in_time(ctx, r, case, &subject.subject).await else {
            // The incident stays open, its lease ended now: the retry resumes it at once.
            if let Err(e) = self
                .ledger
                .lapse(r.action(), &case.resource, &incident.id, SystemTime::now())
                .await
            {
                tracing::error!(error = %e, "could not end the lease; the sweep will resume");
            }
            let outcome = Outcome::Unfinished {
                not_confirmed: subject.plan.clone(),
            };
            return self
                .notify(ctx, r, case, Some(subject), report(outcome))
                .await;
        };
        let (status, outcome) = if steps.iter().all(|s| s.ok) {
            (IncidentStatus::Remediated, Outcome::Remediated { steps })
        } else if steps.iter().any(|s| s.ok) {
            (IncidentStatus::Partial, Outcome::Partial { steps })
        } else {
            (IncidentStatus::Failed, Outcome::Partial { steps })
        };
        let (_, report) = tokio::join!(
            self.close(r, &incident, status, &outcome),
            self.notify(ctx, r, case, Some(subject), report(outcome.clone()))
        );
        report
    }

    /// A verdict that acts on nothing: its record, the lock closed, a person told if needed.
    async fn conclude<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: &Incident,
        verdict: &Verdict<R::Subject>,
        resumed: bool,
    ) -> CaseReport {
        if let Err(error) = r.record(ctx, case, verdict).await {
            return self.give_back(ctx, r, case, incident, error, resumed).await;
        }
        let (outcome, status) = match verdict {
            // Never reached: an acting verdict goes on to act. Were it, nothing was done.
            Verdict::Act(_) => (
                Outcome::NothingToDo {
                    reason: "nothing to conclude".into(),
                },
                IncidentStatus::Failed,
            ),
            Verdict::NothingToDo(reason) => (
                Outcome::NothingToDo {
                    reason: reason.clone(),
                },
                IncidentStatus::Failed,
            ),
            Verdict::AlreadyRemediated(reason) | Verdict::Healthy { reason, .. } => (
                Outcome::AlreadyRemediated {
                    reason: reason.clone(),
                },
                IncidentStatus::Remediated,
            ),
            Verdict::Exempt(reason) => (
                Outcome::Exempt {
                    reason: reason.clone(),
                },
                IncidentStatus::Exempt,
            ),
            Verdict::Notice {
                severity,
                headline,
                detail,
                facts,
            } => {
                self.release(r, &case.resource, &incident.id, "noticed", false)
                    .await;
                let n = Notification {
                    severity: *severity,
                    action: "notice".to_owned(),
                    resource: case.resource.clone(),
                    headline: headline.clone(),
                    body: vec![
                        detail.clone(),
                        format!("Trigger: {}.", ctx.trigger.describe()),
                    ],
                    incident: ctx.incident.to_owned(),
                    facts: facts.clone(),
                    ..Notification::default()
                };
                let noticed = Outcome::Noticed {
                    detail: detail.clone(),
                };
                return self
                    .send(&n, report(&case.resource, noticed, resumed))
                    .await;
            }
        };
        if resumed {
            // The abandoned incident's record says in-progress: give it its end.
            self.close(r, incident, status, &outcome).await;
        } else {
            let remediated = status == IncidentStatus::Remediated;
            self.release(r, &case.resource, &incident.id, outcome.name(), remediated)
                .await;
        }
        let report = report(&case.resource, outcome, resumed);
        match (&report.outcome, resumed) {
            (Outcome::Exempt { .. }, _) | (_, true) => {
                self.notify::<R>(ctx, r, case, None, report).await
            }
            _ => report,
        }
    }

    /// Closes the lock with an outcome; a failure is logged (the lease then runs out and the
    /// sweep finds the incident closed).
    async fn release<R: Remediation>(
        &self,
        r: &R,
        resource: &str,
        incident: &str,
        outcome: &str,
        remediated: bool,
    ) {
        if let Err(e) = self
            .ledger
            .release(r.action(), resource, incident, outcome, remediated)
            .await
        {
            tracing::error!(error = %e, %resource, "could not close the incident lock");
        }
    }

    /// Nothing changed: closes the lock and gives the delivery back, so that Lambda's retry
    /// of it acts; the answer is an error that asks for that retry.
    async fn give_back<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: &Incident,
        error: String,
        resumed: bool,
    ) -> CaseReport {
        if let Err(e) = self
            .ledger
            .forget(r.action(), &case.resource, &incident.id, ctx.delivery_id)
            .await
        {
            tracing::error!(error = %e, "could not reopen the delivery for a retry");
        }
        report(&case.resource, Outcome::Unverified { error }, resumed)
    }

    /// Records an incident's outcome and closes its lock; a failure is logged, since the
    /// action already happened.
    async fn close<R: Remediation>(
        &self,
        r: &R,
        incident: &Incident,
        status: IncidentStatus,
        outcome: &Outcome,
    ) {
        let detail = serde_json::to_value(outcome).unwrap_or(Value::Null);
        let (closed, released) = tokio::join!(
            self.ledger
                .close_incident(incident, status, &detail, SystemTime::now()),
            self.ledger.release(
                r.action(),
                &incident.resource,
                &incident.id,
                status.as_str(),
                status == IncidentStatus::Remediated,
            )
        );
        if let Err(e) = closed.and(released) {
            tracing::error!(error = %e, resource = %incident.resource, "could not record the outcome");
        }
    }

    /// The periodic sweep: every open incident of this action whose lease ran out, resumed.
    async fn sweep<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
    ) -> Result<Vec<CaseReport>, HandleError> {
        let stale = self
            .ledger
            .stale(r.action(), ctx.now)
            .await
            .map_err(|e| HandleError::Retry(e.to_string()))?;
        Ok(
            join_all(stale.into_iter().map(|(resource, held)| async move {
                match serde_json::from_value::<R::Target>(held.target.clone()) {
                    Ok(target) => {
                        let case = Case { resource, target };
                        let holder = holder(self.fw.function(), &case.resource);
                        let survey = self.survey(r, &case.resource, &holder, ctx.now).await;
                        Box::pin(self.resume(ctx, r, &case, held, survey)).await
                    }
                    Err(e) => {
                        let error = format!(
                            "incident {} has an unreadable target in history: {e}",
                            held.incident
                        );
                        self.abandoned(ctx, r.action(), &resource, error).await
                    }
                }
            }))
            .await,
        )
    }

    /// The remediation's work ahead of time; what went critically wrong wakes a human, once
    /// per sweep.
    async fn upkeep<R: Remediation>(&self, ctx: &Context<'_>, r: &R) -> Vec<Step> {
        if ctx.dry_run {
            return Vec::new();
        }
        let steps = r.upkeep(ctx).await;
        let critical: Vec<&Step> = steps.iter().filter(|s| s.critical).collect();
        if critical.is_empty() {
            for s in steps.iter().filter(|s| !s.ok) {
                tracing::warn!(step = %s.name, detail = %s.detail, "upkeep step failed");
            }
            return steps;
        }
        let lines: Vec<String> = critical
            .iter()
            .map(|s| format!("{}: {}", s.name, s.detail))
            .collect();
        let n = Notification {
            severity: Severity::Critical,
            action: "upkeep".to_owned(),
            resource: self.fw.function().to_owned(),
            headline: format!("found while preparing {}: {}", r.action(), critical[0].name),
            body: vec![format!(
                "The periodic sweep, preparing what {} needs ahead of time, found:\n{}",
                r.action(),
                crate::notify::report::bullets(&lines)
            )],
            next_steps: vec![
                "Find who made the change: CloudTrail events on the resources named above."
                    .to_owned(),
            ],
            incident: ctx.delivery_id.to_owned(),
            facts: serde_json::json!({"steps": critical}),
            ..Notification::default()
        };
        if let Err(e) = self.pager.page(&n).await {
            tracing::error!(error = %e, "upkeep notification failed");
        }
        steps
    }

    /// Keeps each notification SNS refused on its resource's lock and answers an error, so
    /// that Lambda retries the delivery and the retry sends them ([`Self::resend`]).
    async fn keep_for_retry<R: Remediation>(
        &self,
        r: &R,
        refused: Vec<Notification>,
    ) -> Result<(), HandleError> {
        if refused.is_empty() {
            return Ok(());
        }
        for n in &refused {
            let kept = match serde_json::to_string(n) {
                Ok(json) => self
                    .ledger
                    .keep_unsent(r.action(), crate::notify::held::kept_on(n), &json)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = kept {
                tracing::error!(resource = %n.resource, error = %e, "a refused notification could not be kept");
            }
        }
        let what: Vec<String> = refused
            .iter()
            .map(|n| format!("{} {}", n.severity.as_str(), n.headline))
            .collect();
        Err(HandleError::Retry(format!(
            "SNS refused {} notification(s), kept for the retry: {}",
            refused.len(),
            what.join("; ")
        )))
    }

    /// Every notification SNS refused that is still kept, whatever became of its delivery's
    /// retries (Lambda gives up after two): sent by the sweep.
    async fn resend_kept<R: Remediation>(&self, r: &R) -> Vec<CaseReport> {
        let kept = match self.ledger.unsent(r.action()).await {
            Ok(kept) => kept,
            Err(e) => {
                tracing::error!(error = %e, "kept notifications could not be listed");
                return Vec::new();
            }
        };
        join_all(
            kept.iter()
                .map(|(resource, json)| self.resend(r, resource, json)),
        )
        .await
    }

    /// A notification SNS refused the first time: sent now, by the delivery's retry or the
    /// sweep.
    async fn resend<R: Remediation>(&self, r: &R, resource: &str, kept: &str) -> CaseReport {
        let mut report = report(resource, Outcome::Duplicate, false);
        let n: Notification = match serde_json::from_str(kept) {
            Ok(n) => n,
            Err(e) => {
                report.notify_error = Some(format!("the kept notification is unreadable: {e}"));
                return report;
            }
        };
        match self.pager.page(&n).await {
            Ok(()) => {
                report.notified = Some(n.severity);
                if let Err(e) = self.ledger.sent(r.action(), resource).await {
                    tracing::warn!(error = %e, "sent, but not marked sent: it may go out twice");
                }
            }
            Err(e) => report.notify_error = Some(e.to_string()),
        }
        report
    }

    /// The notification for an outcome, then sent.
    async fn notify<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        subject: Option<&Subject<R::Subject>>,
        report: CaseReport,
    ) -> CaseReport {
        let verbs = Verbs {
            action: r.action(),
            done: r.done(),
        };
        let n = compose(
            ctx,
            verbs,
            &case.resource,
            subject,
            &report.outcome,
            report.resumed,
        );
        self.send(&n, report).await
    }

    async fn send(&self, n: &Notification, mut report: CaseReport) -> CaseReport {
        match self.pager.page(n).await {
            Ok(()) => report.notified = Some(n.severity),
            Err(e) => {
                tracing::error!(error = %e, resource = %n.resource, "notification failed");
                report.notify_error = Some(e.to_string());
            }
        }
        report
    }
}

/// Acts within the invocation's deadline, keeping [`RESERVE`] to record and notify; `None`
/// when time ran out before every step was confirmed.
async fn act_in_time<R: Remediation>(
    ctx: &Context<'_>,
    r: &R,
    case: &Case<R::Target>,
    subject: &R::Subject,
) -> Option<Vec<Step>> {
    let act = Box::pin(r.act(ctx, case, subject));
    let Some(deadline) = ctx.deadline else {
        return Some(act.await);
    };
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .saturating_sub(RESERVE);
    tokio::time::timeout(left, act).await.ok()
}

/// Metrics and logs for every case; the answer, or the error that makes Lambda retry.
fn finish(fw: &Framework, summary: Summary, audit: bool) -> Result<Summary, HandleError> {
    let mut counts = Counts {
        audits: u32::from(audit),
        ..Counts::default()
    };
    let mut retry = Vec::new();
    let mut unfinished = Vec::new();
    for case in &summary.cases {
        match &case.outcome {
            Outcome::Remediated { .. } => counts.taken += 1,
            Outcome::Partial { .. } => {
                counts.taken += 1;
                counts.failed += 1;
            }
            Outcome::Held { .. } | Outcome::Exempt { .. } => counts.held += 1,
            Outcome::Unverified { error } => {
                counts.failed += 1;
                retry.push(format!("{}: {error}", case.resource));
            }
            Outcome::Unfinished { .. } => {
                counts.failed += 1;
                unfinished.push(case.resource.clone());
            }
            _ => {}
        }
        if case.notify_error.is_some() {
            counts.failed += 1;
        }
        tracing::info!(
            resource = %case.resource,
            outcome = case.outcome.name(),
            resumed = case.resumed,
            notified = ?case.notified,
            "case handled"
        );
    }
    metrics::emit(fw.function(), counts);
    if !unfinished.is_empty() {
        return Err(HandleError::Unfinished(unfinished.join(", ")));
    }
    if !retry.is_empty() {
        return Err(HandleError::Retry(retry.join("; ")));
    }
    Ok(summary)
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
