//! The verdicts the guard gives on its own resources: a page when a person must act, a
//! repair when the stack's state can be put back, sound when nothing is wrong.

use serde::Serialize;
use serde_json::{Value, json};
use tourniquet::own::Own;
use tourniquet::{Context, Severity, Subject, Trigger, Verdict};

use crate::Guard;
use crate::disarmed::{Disarmed, Repair};

/// Who made the call behind a trigger, for the page.
pub(crate) fn who(ctx: &Context<'_>) -> String {
    match (ctx.actor, ctx.trigger) {
        (Some(p), Trigger::ApiCall(_, call)) => {
            format!("{} ({})", p.display_arn(), call.event_name)
        }
        (_, Trigger::Scheduled(_)) => "found by the audit".to_owned(),
        _ => "unknown".to_owned(),
    }
}

impl Guard {
    /// Disarmed, and nothing to put back by itself: a person must act.
    pub(crate) fn page(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        findings: &[String],
    ) -> Verdict<Disarmed> {
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
    pub(crate) fn call_finding(ctx: &Context<'_>, own: &Own) -> Option<String> {
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

    /// Disarmed, and the stack's state can be put back: act.
    pub(crate) fn repair(
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
    pub(crate) fn sound<T: Serialize>(
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
}
