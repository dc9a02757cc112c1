//! The periodic sweep: every abandoned incident resumed, every message SNS refused sent,
//! and the remediation's upkeep. Also where refused messages are kept for a retry.

use std::time::UNIX_EPOCH;

use futures_util::future::join_all;

use super::opening::cannot_resume;
use super::{HandleError, Run, finish, holder, report};
use crate::contract::{Case, CaseReport, Context, Outcome, Remediation, Step, Summary};
use crate::ledger::Ledger;
use crate::notify::held::HeldBuffer;
use crate::notify::unsent::Unsent;
use crate::notify::{Notification, Pager, Severity};

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// The sweep's run; what it could not send is kept too, for the next one.
    pub(super) async fn sweep<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        mut summary: Summary,
    ) -> Result<Summary, HandleError> {
        let unsent = Unsent::new(self.pager);
        let run = self.with_pager(&unsent);
        // Kept messages of held cases go out as they would have: one summary for many.
        let held = HeldBuffer::new(&unsent);
        let resending = self.with_pager(&held);
        let (cases, upkeep, mut resent) = tokio::join!(
            run.resume_abandoned(ctx, r),
            run.upkeep(ctx, r),
            resending.resend_kept(ctx, r)
        );
        self.flush_held(r, held, &mut resent).await;
        summary.cases = cases?;
        summary.cases.extend(resent);
        summary.upkeep = upkeep;
        if summary.cases.is_empty() {
            summary.ignored = Some("no abandoned incident".into());
        }
        let kept = self.keep_for_retry(r, unsent.refused()).await;
        finish(self.fw, summary, false).and_then(|s| kept.map(|()| s))
    }

    /// Every open incident of this action whose lease ran out, resumed.
    async fn resume_abandoned<R: Remediation>(
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
            join_all(stale.into_iter().map(|(resource, abandoned)| async move {
                match serde_json::from_value::<R::Target>(abandoned.target.clone()) {
                    Ok(target) => {
                        let case = Case { resource, target };
                        let holder = holder(self.fw.function(), &case.resource);
                        let survey = self.survey(r, &case.resource, &holder, ctx.now).await;
                        Box::pin(self.resume(ctx, r, &case, abandoned, survey)).await
                    }
                    Err(e) => {
                        let error = format!(
                            "incident {} has an unreadable target in history: {e}",
                            abandoned.incident
                        );
                        let s = cannot_resume(ctx, r.action(), &resource, error);
                        self.settle(ctx, r, &resource, s).await
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
        let steps = Box::pin(r.upkeep(ctx)).await;
        let critical: Vec<&Step> = steps.iter().filter(|s| s.critical).collect();
        if critical.is_empty() {
            for s in steps.iter().filter(|s| !s.ok) {
                tracing::warn!(step = %s.name, detail = %s.detail, "upkeep step failed");
            }
            return steps;
        }
        let n = upkeep_notice(ctx, r, &critical);
        // A failure is logged where it is sent, and kept for the next sweep.
        let _ = self.send(&n).await;
        steps
    }

    /// Keeps each notification SNS refused on its resource's lock and answers an error, so
    /// that Lambda retries the delivery and the retry sends them ([`Self::resend`]).
    pub(super) async fn keep_for_retry<R: Remediation>(
        &self,
        r: &R,
        refused: Vec<Notification>,
    ) -> Result<(), HandleError> {
        if refused.is_empty() {
            return Ok(());
        }
        // A summary of held cases is not kept: each case keeps its own message (the outbox),
        // and their retry makes the summary again.
        for n in refused
            .iter()
            .filter(|n| !crate::notify::held::is_summary(n))
        {
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
    async fn resend_kept<R: Remediation>(&self, ctx: &Context<'_>, r: &R) -> Vec<CaseReport> {
        // A message kept within the lease margin may be an invocation's between its close and its
        // publish: the sweep leaves it to that invocation.
        let margin = self.fw.config.lease_margin;
        let kept_before = ctx.now.checked_sub(margin).unwrap_or(UNIX_EPOCH);
        let kept = match self.ledger.unsent(r.action(), kept_before).await {
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
    pub(super) async fn resend<R: Remediation>(
        &self,
        r: &R,
        resource: &str,
        kept: &str,
    ) -> CaseReport {
        let mut report = report(resource, Outcome::Duplicate, false);
        let n: Notification = match serde_json::from_str(kept) {
            Ok(n) => n,
            Err(e) => {
                report.notify_error = Some(format!("the kept notification is unreadable: {e}"));
                return report;
            }
        };
        let report = self.tell(&n, report).await;
        if report.notified.is_some() && !self.pager.defers(&n) {
            self.mark_sent(r, resource).await;
        }
        report
    }
}

/// What the upkeep found critically wrong, for a person.
fn upkeep_notice<R: Remediation>(ctx: &Context<'_>, r: &R, critical: &[&Step]) -> Notification {
    let lines: Vec<String> = critical
        .iter()
        .map(|s| format!("{}: {}", s.name, s.detail))
        .collect();
    let first = critical.first().map_or("", |s| s.name.as_str());
    Notification {
        severity: Severity::Critical,
        action: "upkeep".to_owned(),
        resource: ctx.framework.function().to_owned(),
        headline: format!("found while preparing {}: {first}", r.action()),
        body: vec![format!(
            "The periodic sweep, preparing what {} needs ahead of time, found:\n{}",
            r.action(),
            crate::notify::report::bullets(&lines)
        )],
        next_steps: vec![
            "Find who made the change: CloudTrail events on the resources named above.".to_owned(),
        ],
        incident: ctx.delivery_id.to_owned(),
        facts: serde_json::json!({"steps": critical}),
        ..Notification::default()
    }
}
