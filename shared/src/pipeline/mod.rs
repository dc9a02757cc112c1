//! The run of one event through the stages, the same for every function. This is the one
//! place the stages are written; the crate's root and the README point here.
//!
//! 1. **Decode** the event ([`crate::events`]) and **admit** it ([`admission`]): a forged
//!    event (a `source` that is not its service's, a time in the future) is told and dropped;
//!    an event caused by one of Tourniquet's own roles is ignored; an event of an account
//!    Tourniquet may not act in is refused and told (the member gate).
//! 2. **Intake**: the remediation finds its cases in the event
//!    ([`Remediation::intake`]). The periodic sweep instead resumes abandoned incidents,
//!    sends the messages SNS refused and runs the remediation's upkeep ([`sweep`]).
//! 3. **Open** each case's incident ([`opening`]): the first round opens the incident lock
//!    (or joins the open incident, or takes over one whose invocation died, or answers a
//!    duplicate), checks the live state and surveys the safeguard's slots, all at once.
//!    Resuming is a way to open: from the state recorded when the incident opened.
//! 4. **Decide** ([`deciding`]): the live verdict, the protected principals, then the
//!    second round, at once: the safeguard's slot and the record of the state before. Only
//!    then does anything change.
//! 5. **Act** within the invocation's deadline ([`acting`]).
//! 6. **Settle** ([`settling`]): every stage ends in a [`settling::Settlement`]: how the incident's
//!    lock ends and what a person is told. One place ends locks, one place sends messages.
//! 7. **Finish**: metrics and logs per case, and the answer; an error makes Lambda retry.
//!
//! History and notifications are reached through [`Ledger`] and [`Pager`], so that these
//! decisions are tested without AWS. The remediation's own futures (intake, verify, record,
//! resume, act, upkeep) are boxed where the pipeline awaits them: their size is theirs, and
//! a case's future stays small enough for the 2 MiB stacks of debug test threads.

mod acting;
mod admission;
mod deciding;
mod error;
mod opening;
mod settling;
mod sweep;

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

pub use error::HandleError;

use crate::contract::{
    Case, CaseReport, Context, Intake, IntakeError, Outcome, Remediation, Summary,
};
use crate::events::{self, Trigger};
use crate::framework::Framework;
use crate::ledger::Ledger;
use crate::metrics::{self, Counts};
use crate::notify::Pager;
use crate::notify::held::HeldBuffer;
use crate::notify::unsent::Unsent;
use admission::Admission;

/// Cases of one event handled at once: an event may name 1000 instances, and AWS throttles
/// a burst of reads long before that.
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

/// The lease of an incident opened or taken over now: the deadline, plus a margin.
fn lease_until(ctx: &Context<'_>) -> SystemTime {
    ctx.deadline.unwrap_or(ctx.now + LONGEST_INVOCATION) + ctx.framework.config.lease_margin
}

impl<'a, L, P> Run<'a, L, P> {
    /// The same run, paging through `pager` (a wrapper that keeps or buffers messages).
    fn with_pager<'p, Q>(&self, pager: &'p Q) -> Run<'p, L, Q>
    where
        'a: 'p,
    {
        Run {
            fw: self.fw,
            ledger: self.ledger,
            pager,
        }
    }
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
        let mut summary = self.summary(&trigger, &delivery_id);
        match self.admit(r, &trigger).await {
            Admission::Admitted => {}
            Admission::Forged(forgery) => {
                return self.reject_forgery(forgery, summary).await;
            }
            Admission::Own => {
                summary.ignored = Some("caused by one of Tourniquet's own roles".into());
                return Ok(summary);
            }
            Admission::Refused(scope, refusal) => {
                return self.refuse(r, &trigger, &scope, refusal, summary).await;
            }
        }
        let ctx = Context {
            framework: fw,
            trigger: &trigger,
            delivery_id: &delivery_id,
            incident: &delivery_id,
            actor: trigger.actor(),
            dry_run: fw.config.dry_run,
            now: SystemTime::now(),
            deadline,
        };
        if matches!(trigger, Trigger::Sweep) {
            return self.sweep(&ctx, r, summary).await;
        }
        self.cases(&ctx, r, summary).await
    }

    fn summary(&self, trigger: &Trigger, delivery_id: &str) -> Summary {
        Summary {
            function: self.fw.function(),
            delivery_id: delivery_id.to_owned(),
            trigger: trigger.describe(),
            dry_run: self.fw.config.dry_run,
            ignored: None,
            cases: Vec::new(),
            upkeep: Vec::new(),
        }
    }

    /// The remediation's cases in the event, each run through its incident.
    async fn cases<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        mut summary: Summary,
    ) -> Result<Summary, HandleError> {
        // An audit with nothing to audit still ran: its heartbeat counts it.
        let audit = matches!(ctx.trigger, Trigger::Scheduled(_));
        let cases = match Box::pin(r.intake(ctx.trigger)).await {
            Err(IntakeError::Input(e)) => return Err(HandleError::Input(e)),
            Err(IntakeError::Unavailable(e)) => return Err(HandleError::Retry(e.to_string())),
            Ok(Intake::Ignore(reason)) => {
                summary.ignored = Some(reason);
                return if audit {
                    finish(self.fw, summary, audit)
                } else {
                    Ok(summary)
                };
            }
            Ok(Intake::Cases(cases)) => cases,
            Ok(Intake::Some { cases, skipped }) => {
                summary.ignored = Some(skipped);
                cases
            }
        };
        let unsent = Unsent::new(self.pager);
        summary.cases = self.run_cases(ctx, r, &cases, &unsent).await;
        // Kept before anything else can end the invocation: whatever makes Lambda retry, the
        // retry sends them.
        let kept = self.keep_for_retry(r, unsent.refused()).await;
        let summary = finish(self.fw, summary, audit)?;
        kept.map(|()| summary)
    }

    /// Every case, at most [`CONCURRENT_CASES`] at a time; the held ones told in one summary.
    async fn run_cases<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        cases: &[Case<R::Target>],
        unsent: &Unsent<'_, P>,
    ) -> Vec<CaseReport> {
        let held = HeldBuffer::new(unsent);
        let run = self.with_pager(&held);
        let mut reports: Vec<CaseReport> = stream::iter(cases.iter())
            .map(|case| run.run_case(ctx, r, case))
            .buffered(CONCURRENT_CASES)
            .collect()
            .await;
        self.flush_held(r, held, &mut reports).await;
        reports
    }

    /// Tells the held cases (one by one, or in one summary) and marks their kept messages
    /// sent; a case whose message could not go out says so.
    async fn flush_held<R: Remediation, Q: Pager>(
        &self,
        r: &R,
        held: HeldBuffer<'_, Q>,
        reports: &mut [CaseReport],
    ) {
        let flushed = held.flush(self.fw.function()).await;
        for (resource, error) in flushed.failed {
            for case in reports.iter_mut().filter(|c| c.resource == resource) {
                case.notify_error = Some(error.clone());
            }
        }
        join_all(flushed.sent.iter().map(|res| self.mark_sent(r, res))).await;
    }
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
        count(&mut counts, case);
        match &case.outcome {
            Outcome::Unverified { error } => retry.push(format!("{}: {error}", case.resource)),
            Outcome::Unfinished { .. } => unfinished.push(case.resource.clone()),
            _ => {}
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

/// A case in the invocation's metrics: taken, held or failed.
fn count(counts: &mut Counts, case: &CaseReport) {
    match &case.outcome {
        Outcome::Remediated { .. } => counts.taken += 1,
        Outcome::Partial { .. } => {
            counts.taken += 1;
            counts.failed += 1;
        }
        Outcome::Held { .. } | Outcome::Exempt { .. } => counts.held += 1,
        Outcome::Unverified { .. } | Outcome::Unfinished { .. } => counts.failed += 1,
        _ => {}
    }
    if case.notify_error.is_some() {
        counts.failed += 1;
    }
}

#[cfg(test)]
mod tests;
