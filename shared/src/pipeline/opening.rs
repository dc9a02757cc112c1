//! Opening: the first round for a case (the incident lock, the live check and the
//! safeguard's survey, at once) and what it found. Resuming an abandoned incident is a way
//! to open it: taken over, from the state recorded when it opened.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use serde_json::Value;

use super::settling::{Ending, Settlement, Tell};
use super::{Run, holder, lease_until};
use crate::contract::{Case, CaseReport, Context, Outcome, Remediation, Verdict, VerifyError};
use crate::history::{Incident, IncidentStatus};
use crate::ledger::{Ledger, Lock, LockRequest, OpenIncident};
use crate::notify::{Notification, Pager, Severity};
use crate::safeguard::Survey;

/// An incident this run holds (opened now, or taken over), with the first round's answers.
pub(super) struct Opened<S> {
    pub incident: Incident,
    /// The last incident that remediated this resource, from the lock.
    pub remediated: Option<String>,
    pub verdict: Result<Verdict<S>, VerifyError>,
    pub survey: Option<Survey>,
    pub resumed: bool,
}

/// What opening an abandoned incident found. Both variants are large and short-lived: one
/// is made per resumed case and moved at once.
#[allow(clippy::large_enum_variant)]
enum Resumed<'s, S> {
    Opened(Opened<S>),
    /// Settled without acting: taken by another invocation, closed already, or unreadable.
    Settled(Settlement<'s, S>),
}

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// One case: open, join or resume its incident. Never fails: every failure is an outcome.
    pub(super) async fn run_case<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
    ) -> CaseReport {
        let incident_id = Incident::key(ctx.now, ctx.delivery_id, &case.resource);
        // The case's messages name the incident it opens.
        let ctx = Context {
            incident: &incident_id,
            ..*ctx
        };
        self.lock_and_run(&ctx, r, case).await
    }

    /// The case's lock decides: a new incident, a duplicate, a join, or a resume.
    async fn lock_and_run<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
    ) -> CaseReport {
        let target = serde_json::to_value(&case.target).unwrap_or(Value::Null);
        let request = LockRequest {
            action: r.action(),
            resource: &case.resource,
            function: self.fw.function(),
            delivery: ctx.delivery_id,
            incident: ctx.incident,
            target: &target,
            now: ctx.now,
            lease_until: lease_until(ctx),
        };
        let holder = holder(self.fw.function(), &case.resource);
        let (lock, verdict, survey) = tokio::join!(
            self.ledger.lock(&request),
            Box::pin(r.verify(ctx, case)),
            self.survey(r, &case.resource, &holder, ctx.now)
        );
        let settlement = match lock {
            Err(e) => {
                return self
                    .without_history(ctx, r, case, verdict, e.to_string())
                    .await;
            }
            Ok(Lock::Duplicate { unsent: None }) => Settlement::quiet(Outcome::Duplicate, false),
            Ok(Lock::Duplicate { unsent: Some(kept) }) => {
                return self.resend(r, &case.resource, &kept).await;
            }
            Ok(Lock::Joined { incident }) => self.join(ctx, r, case, incident, verdict).await,
            Ok(Lock::InFlight { incident }) => in_flight(&incident),
            Ok(Lock::Stale(abandoned)) => {
                return Box::pin(self.resume(ctx, r, case, abandoned, survey)).await;
            }
            Ok(Lock::Opened { remediated, left }) => {
                let opened = Opened {
                    incident: self.incident(ctx, r, case, ctx.incident.to_owned(), ctx.delivery_id),
                    remediated,
                    verdict,
                    survey,
                    resumed: false,
                };
                // The last incident's unsent message goes out beside this one's work, never
                // before it.
                let (report, _) = tokio::join!(
                    Box::pin(self.proceed(ctx, r, case, opened)),
                    self.send_left(&case.resource, left)
                );
                return report;
            }
        };
        self.settle(ctx, r, &case.resource, settlement).await
    }

    /// A message the resource's last incident kept and never sent, sent now: a refusal is
    /// kept again by the invocation, like any other.
    async fn send_left(&self, resource: &str, left: Option<String>) {
        let Some(kept) = left else { return };
        match serde_json::from_str::<Notification>(&kept) {
            Ok(n) => {
                let _ = self.send(&n).await;
            }
            Err(e) => tracing::error!(%resource, error = %e, "a kept notification is unreadable"),
        }
    }

    /// The safeguard's windows for a case: its account's (from its key) and the ceiling.
    /// Boxed, in a frame of its own: it is polled inside the first round's join, deep in the
    /// pipeline, where debug builds are near the test threads' stack.
    pub(super) fn survey<'s, R: Remediation>(
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

    fn incident<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        id: String,
        delivery: &str,
    ) -> Incident {
        let scope = self.fw.members.scope_of_key(&case.resource);
        Incident {
            id,
            function: self.fw.function().to_owned(),
            action: r.action().to_owned(),
            resource: case.resource.clone(),
            account: scope.account,
            region: scope.region,
            delivery_id: delivery.to_owned(),
            trigger: ctx.trigger.describe(),
            actor: ctx.actor.map(|a| a.display_arn().to_owned()),
            opened_at: ctx.now,
            before: Value::Null,
        }
    }

    /// Another trigger's incident is open: this delivery's own history is kept, nothing else.
    async fn join<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: String,
        verdict: Result<Verdict<R::Subject>, VerifyError>,
    ) -> Settlement<'s, R::Subject>
    where
        R::Subject: 's,
    {
        if let Ok(v) = &verdict
            && let Err(e) = Box::pin(r.record(ctx, case, v)).await
        {
            let error = format!("joined incident {incident} but could not record: {e}");
            return Settlement::quiet(Outcome::Unverified { error }, false);
        }
        let noted = (self.ledger)
            .join(r.action(), &case.resource, &incident, ctx.delivery_id)
            .await;
        if let Err(e) = noted {
            tracing::warn!(error = %e, %incident, "could not note the joining delivery");
        }
        Settlement::quiet(Outcome::Joined { incident }, false)
    }

    /// An incident whose invocation died: opened again by taking it over, then finished from
    /// the state recorded when it opened. Also the sweep's way in.
    pub(super) async fn resume<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        abandoned: OpenIncident,
        survey: Option<Survey>,
    ) -> CaseReport {
        // The resumed incident's own id names it in every message.
        let resumed_ctx = Context {
            incident: &abandoned.incident,
            ..*ctx
        };
        let ctx = &resumed_ctx;
        match self.take_over(ctx, r, case, &abandoned, survey).await {
            Resumed::Opened(opened) => Box::pin(self.proceed(ctx, r, case, opened)).await,
            Resumed::Settled(s) => self.settle(ctx, r, &case.resource, s).await,
        }
    }

    async fn take_over<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        abandoned: &OpenIncident,
        survey: Option<Survey>,
    ) -> Resumed<'s, R::Subject>
    where
        R::Subject: 's,
    {
        let (action, resource) = (r.action(), &case.resource);
        let lease = lease_until(ctx);
        match self
            .ledger
            .take_over(action, resource, abandoned, lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let joined = Outcome::Joined {
                    incident: abandoned.incident.clone(),
                };
                return Resumed::Settled(Settlement::quiet(joined, false));
            }
            Err(e) => {
                let error = format!(
                    "cannot take over abandoned incident {}: {e}",
                    abandoned.incident
                );
                return Resumed::Settled(cannot_resume(ctx, action, resource, error));
            }
        }
        self.reopen(ctx, r, case, abandoned, survey).await
    }

    /// Opens a taken-over incident from what it recorded when it opened: nothing recorded
    /// means nothing changed (checked again from the start); closed means nothing to do.
    async fn reopen<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        abandoned: &OpenIncident,
        survey: Option<Survey>,
    ) -> Resumed<'s, R::Subject>
    where
        R::Subject: 's,
    {
        let (action, resource) = (r.action(), &case.resource);
        let mut incident = self.incident(
            ctx,
            r,
            case,
            abandoned.incident.clone(),
            &abandoned.delivery,
        );
        let verdict = match self.ledger.incident(resource, &abandoned.incident).await {
            Err(e) => {
                let error = format!("cannot read abandoned incident {}: {e}", abandoned.incident);
                return Resumed::Settled(cannot_resume(ctx, action, resource, error));
            }
            // Nothing was recorded, so nothing was changed: check again from the start.
            Ok(None) => Box::pin(r.verify(ctx, case)).await,
            Ok(Some(record)) if record.status != IncidentStatus::InProgress.as_str() => {
                let reason = format!(
                    "incident {} was closed as {}",
                    abandoned.incident, record.status
                );
                return Resumed::Settled(Settlement {
                    incident: Some(incident),
                    ending: Ending::Release {
                        outcome: record.status,
                        remediated: false,
                    },
                    tell: Tell::Nobody,
                    outcome: Outcome::AlreadyRemediated { reason },
                    resumed: false,
                });
            }
            Ok(Some(record)) => {
                incident.trigger = record.trigger;
                Box::pin(r.resume(ctx, case, &record.before)).await
            }
        };
        Resumed::Opened(Opened {
            incident,
            remediated: None,
            verdict,
            survey,
            resumed: true,
        })
    }
}

/// The delivery of an incident still under its lease: answered with an error, so that Lambda
/// retries it, and a retry after the lease resumes the incident.
fn in_flight<'s, S>(incident: &str) -> Settlement<'s, S> {
    let error = format!(
        "incident {incident} of this delivery is still open under a live lease: retry later"
    );
    Settlement::quiet(Outcome::Unverified { error }, false)
}

/// An abandoned incident that cannot be resumed now: a person must look, and the lease
/// runs out again for the next try.
pub(super) fn cannot_resume<'s, S>(
    ctx: &Context<'_>,
    action: &str,
    resource: &str,
    error: String,
) -> Settlement<'s, S> {
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
    Settlement {
        incident: None,
        ending: Ending::Keep,
        tell: Tell::Notice(Box::new(n)),
        outcome: Outcome::Unverified { error },
        resumed: true,
    }
}
