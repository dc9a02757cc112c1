//! The report of one case: the notification a person reads, written from the outcome.

use serde_json::json;

use crate::contract::{Context, Outcome, Step, Subject};
use crate::events::Principal;
use crate::notify::{Notification, Severity};

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
    resumed: bool,
) -> Notification {
    let Verbs {
        action,
        done,
        acted,
    } = verbs;
    let trigger = ctx.trigger.describe();
    let mut body = vec![format!("What happened: {trigger}.")];
    if resumed {
        body.push(format!(
            "RESUMED: incident {} was opened by an earlier invocation that did not finish. It \
             was finished from the live state and the state recorded when it opened.",
            ctx.incident
        ));
    }
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
        Outcome::Unfinished { not_confirmed } => {
            body.push(format!(
                "The invocation ran out of time before these were confirmed:\n{}\nThe incident \
                 stays open: the retry of this event, or the periodic sweep, resumes it. Check \
                 {resource} now.",
                not_confirmed
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            (
                Severity::Critical,
                "unfinished".to_owned(),
                format!("NOT finished, out of time: {action} {resource}"),
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
    let (severity, headline) = if resumed {
        (
            severity.max(Severity::Warning),
            format!("resumed: {headline}"),
        )
    } else {
        (severity, headline)
    };
    let facts = json!({
        "delivery_id": ctx.delivery_id,
        "incident": ctx.incident,
        "resumed": resumed,
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
