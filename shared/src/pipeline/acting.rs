//! Acting, within the invocation's deadline: the remediation's steps, judged into the
//! incident's end. Also the one case that acts without a lock: history unreachable and an
//! action that is safe without it.

use std::time::{Duration, SystemTime};

use super::settling::{Ending, Settlement, Tell};
use super::{RESERVE, Run};
use crate::contract::{
    Case, CaseReport, Context, Outcome, Remediation, Step, Subject, Verdict, VerifyError,
};
use crate::history::{Incident, IncidentStatus};
use crate::ledger::Ledger;
use crate::notify::Pager;

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// Acts, and settles the incident by what was confirmed.
    pub(super) async fn act<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: Incident,
        subject: &'s Subject<R::Subject>,
        resumed: bool,
    ) -> Settlement<'s, R::Subject> {
        let (ending, outcome) = match act_in_time(ctx, r, case, &subject.subject).await {
            // The incident stays open, its lease ended now: the retry resumes it at once.
            None => (
                Ending::Lapse,
                Outcome::Unfinished {
                    not_confirmed: subject.plan.clone(),
                },
            ),
            Some(steps) => {
                let (status, outcome) = judged(steps);
                (Ending::Close(status), outcome)
            }
        };
        Settlement {
            incident: Some(incident),
            ending,
            tell: Tell::Compose(Some(subject)),
            outcome,
            resumed,
        }
    }

    /// History cannot be reached: nothing can be locked or recorded. Fail closed, except for
    /// an action that is safe without history, which is taken; either way a human is woken.
    pub(super) async fn without_history<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        verdict: Result<Verdict<R::Subject>, VerifyError>,
        error: String,
    ) -> CaseReport {
        let subject = match &verdict {
            Ok(Verdict::Act(subject))
                if !ctx.dry_run && r.safe_without_history(&subject.subject) =>
            {
                subject
            }
            _ => {
                let held = Outcome::Held {
                    reason: format!("cannot open the incident, failing closed: {error}"),
                };
                let s = Settlement {
                    tell: Tell::Compose(None),
                    ..Settlement::quiet(held, false)
                };
                return self.settle(ctx, r, &case.resource, s).await;
            }
        };
        let mut steps = act_in_time(ctx, r, case, &subject.subject)
            .await
            .unwrap_or_else(|| vec![Step::critical("act", "out of time before it was confirmed")]);
        steps.push(Step::critical(
            "history",
            format!("history unreachable, nothing recorded and no baseline read: {error}"),
        ));
        let s = Settlement {
            tell: Tell::Compose(Some(subject)),
            ..Settlement::quiet(Outcome::Partial { steps }, false)
        };
        self.settle(ctx, r, &case.resource, s).await
    }
}

/// The incident's status and outcome by its steps: all confirmed, some, or none.
fn judged(steps: Vec<Step>) -> (IncidentStatus, Outcome) {
    if steps.iter().all(|s| s.ok) {
        (IncidentStatus::Remediated, Outcome::Remediated { steps })
    } else if steps.iter().any(|s| s.ok) {
        (IncidentStatus::Partial, Outcome::Partial { steps })
    } else {
        (IncidentStatus::Failed, Outcome::Partial { steps })
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
