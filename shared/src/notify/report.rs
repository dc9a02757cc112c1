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
                (true, false) => "ok",
                (true, true) => "ok, and a person must look now",
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
}

/// Lines as a list in an e-mail.
pub fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the steps kept for the investigation.
fn evidence(steps: &[Step]) -> Vec<&str> {
    steps
        .iter()
        .flat_map(|s| s.evidence.iter().map(String::as_str))
        .collect()
}

/// Where the incident's record is, for the person who investigates.
fn record_line(ctx: &Context<'_>, resource: &str) -> String {
    format!(
        "The whole story: tourniquet show {id} (history table {}, pk INCIDENT#{resource}, sk \
         {id}).",
        ctx.framework.config.history_table,
        id = ctx.incident
    )
}

/// What a person must decide when Tourniquet did not act, and how to act by hand.
fn decide<S>(
    verbs: Verbs,
    resource: &str,
    reason: &str,
    subject: Option<&Subject<S>>,
) -> Vec<String> {
    let Verbs { action, done } = verbs;
    let mut steps = vec![format!(
        "Decide now whether {resource} must be {done}. Tourniquet did not: {reason}."
    )];
    if let Some(s) = subject.filter(|s| !s.plan.is_empty()) {
        steps.push(format!(
            "If it must, {action} it by hand, as Tourniquet would have: {}.",
            s.plan.join("; ")
        ));
    }
    steps.push(format!(
        "If it must not (an expected change), nothing is to be done: say so where this \
         incident is tracked, so the next reader knows {resource} was looked at."
    ));
    steps
}

/// The text of a message as it is written: what happened, then what to do.
struct Draft {
    body: Vec<String>,
    next_steps: Vec<String>,
}

/// What the message is, besides its text: how urgent, its `action` attribute, its headline.
type Heading = (Severity, String, String);

/// Writes the notification of an outcome, for a person first. Severity: a remediation that
/// worked is WARNING (containment starts an investigation); a dry run too (the incident is
/// not contained); anything left to a person now, or dangerous, is CRITICAL; no-ops are INFO.
pub fn compose<S>(
    ctx: &Context<'_>,
    verbs: Verbs,
    resource: &str,
    subject: Option<&Subject<S>>,
    outcome: &Outcome,
    resumed: bool,
) -> Notification {
    let mut draft = Draft {
        body: opening(ctx, subject, resumed),
        next_steps: Vec::new(),
    };
    let (severity, action, headline) = match outcome {
        Outcome::Remediated { steps } | Outcome::Partial { steps } => {
            acted(&mut draft, ctx, verbs, resource, subject, steps)
        }
        Outcome::DryRun { plan } => dry_run(&mut draft, verbs, resource, subject, plan),
        Outcome::Held { reason } => not_done(&mut draft, verbs, resource, subject, reason, "held"),
        Outcome::Exempt { reason } => {
            not_done(&mut draft, verbs, resource, subject, reason, "exempt")
        }
        Outcome::Unfinished { not_confirmed } => {
            unfinished(&mut draft, ctx, verbs, resource, not_confirmed)
        }
        other => (
            Severity::Info,
            other.name().to_owned(),
            format!("{} {resource}", other.name()),
        ),
    };
    if let (Some(s), Outcome::Remediated { .. } | Outcome::Partial { .. }) = (subject, outcome) {
        draft.body.extend(release_lines(ctx, resource, &s.undo));
    }
    let (severity, headline) = if resumed {
        (
            severity.max(Severity::Warning),
            format!("resumed: {headline}"),
        )
    } else {
        (severity, headline)
    };
    Notification {
        severity,
        action,
        resource: resource.to_owned(),
        headline,
        body: draft.body,
        next_steps: draft.next_steps,
        links: subject.map(|s| s.links.clone()).unwrap_or_default(),
        incident: ctx.incident.to_owned(),
        scope: None,
        facts: facts(ctx, subject, outcome, resumed),
    }
}

/// What happened, whether it was resumed, and the resource as found.
fn opening<S>(ctx: &Context<'_>, subject: Option<&Subject<S>>, resumed: bool) -> Vec<String> {
    let trigger = ctx.trigger.describe();
    let mut body = vec![format!(
        "What happened: {trigger}. Incident {}.",
        ctx.incident
    )];
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
    body
}

/// Acted: what was done, what failed, the evidence kept and what to do next.
fn acted<S>(
    draft: &mut Draft,
    ctx: &Context<'_>,
    verbs: Verbs,
    resource: &str,
    subject: Option<&Subject<S>>,
    steps: &[Step],
) -> Heading {
    let Verbs { action, done } = verbs;
    draft
        .body
        .push(format!("What was done:\n{}", step_lines(steps)));
    let severity = if steps.iter().any(|s| s.critical) {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let failed = steps.iter().filter(|s| !s.ok).count();
    let next = &mut draft.next_steps;
    if failed > 0 {
        next.push(format!(
            "{failed} step(s) FAILED (above): finish them by hand or check why, now."
        ));
    }
    let kept = evidence(steps);
    if !kept.is_empty() {
        next.push(format!(
            "Evidence kept: {}. Examine it before anything is released or terminated.",
            kept.join(", ")
        ));
    }
    next.push(record_line(ctx, resource));
    if let Some(s) = subject {
        next.extend(s.next_steps.iter().cloned());
        if !s.undo.is_empty() {
            next.push("The commands that release it are under \"To release\".".to_owned());
        }
    }
    let headline = if failed == 0 {
        format!("{done} {resource}")
    } else {
        format!("{done} {resource}, {failed} step(s) failed")
    };
    (severity, action.to_owned(), headline)
}

fn dry_run<S>(
    draft: &mut Draft,
    verbs: Verbs,
    resource: &str,
    subject: Option<&Subject<S>>,
    plan: &[String],
) -> Heading {
    let Verbs { action, done } = verbs;
    draft.body.push(format!(
        "DRY RUN: nothing was changed. It would have:\n{}",
        bullets(plan)
    ));
    let why = "the function runs with DRY_RUN=true";
    draft
        .next_steps
        .extend(decide(verbs, resource, why, subject));
    (
        Severity::Warning,
        format!("{action}-dry-run"),
        format!("dry run: would have {done} {resource}"),
    )
}

/// Held by a safeguard, or exempt: nothing was done, and a person must decide.
fn not_done<S>(
    draft: &mut Draft,
    verbs: Verbs,
    resource: &str,
    subject: Option<&Subject<S>>,
    reason: &str,
    word: &str,
) -> Heading {
    let Verbs { action, done } = verbs;
    draft.body.push(format!(
        "Nothing was done: {reason}. A person must decide whether to {action} {resource}."
    ));
    draft
        .next_steps
        .extend(decide(verbs, resource, reason, subject));
    (
        Severity::Critical,
        word.to_owned(),
        format!("{word}, not {done}: {resource}"),
    )
}

fn unfinished(
    draft: &mut Draft,
    ctx: &Context<'_>,
    verbs: Verbs,
    resource: &str,
    not_confirmed: &[String],
) -> Heading {
    draft.body.push(format!(
        "The invocation ran out of time before these were confirmed:\n{}\nThe incident \
         stays open: the retry of this event, or the periodic sweep, resumes it.",
        bullets(not_confirmed)
    ));
    draft.next_steps.push(format!(
        "Check {resource} now: each line above may or may not be done."
    ));
    draft.next_steps.push(format!(
        "If no RESUMED message for incident {} follows within 10 minutes, finish the \
         lines above by hand.",
        ctx.incident
    ));
    (
        Severity::Critical,
        "unfinished".to_owned(),
        format!("NOT finished, out of time: {} {resource}", verbs.action),
    )
}

/// How to release what was done, where it was done; nothing when there is no undo.
fn release_lines(ctx: &Context<'_>, resource: &str, undo: &[String]) -> Option<String> {
    if undo.is_empty() {
        return None;
    }
    let place = ctx.framework.members.scope_of_key(resource);
    Some(format!(
        "To release (undo), once the investigation allows, in {} (--region {}):\n{}",
        place.describe(),
        place.region,
        bullets(undo)
    ))
}

/// The same facts as JSON, for machines reading the message.
fn facts<S>(
    ctx: &Context<'_>,
    subject: Option<&Subject<S>>,
    outcome: &Outcome,
    resumed: bool,
) -> serde_json::Value {
    json!({
        "delivery_id": ctx.delivery_id,
        "incident": ctx.incident,
        "resumed": resumed,
        "trigger": ctx.trigger.describe(),
        "actor": ctx.actor.map(Principal::display_arn),
        "dry_run": ctx.dry_run,
        "outcome": outcome,
        "summary": subject.map(|s| s.summary.as_str()),
        "undo": subject.map(|s| &s.undo),
    })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::events::decode;
    use crate::framework::offline;

    const VERBS: Verbs = Verbs {
        action: "isolate",
        done: "isolated",
    };

    fn subject() -> Subject<()> {
        Subject {
            subject: (),
            before: json!({}),
            summary: "instance i-1".into(),
            plan: vec!["cut it off".into(), "snapshot its volume".into()],
            undo: vec!["put it back".into()],
            next_steps: vec!["look at the snapshots".into()],
            links: vec![crate::console::instance("aws", "us-east-1", "i-1")],
        }
    }

    fn compose_for(outcome: &Outcome, resumed: bool) -> Notification {
        let fw = offline();
        let trigger = decode(&json!({"instance_ids": ["i-1"], "reason": "t"})).unwrap();
        let ctx = Context {
            framework: &fw,
            trigger: &trigger,
            delivery_id: "d-2",
            incident: "d-1",
            actor: None,
            dry_run: false,
            now: SystemTime::now(),
            deadline: None,
        };
        compose(&ctx, VERBS, "i-1", Some(&subject()), outcome, resumed)
    }

    #[test]
    fn every_outcome_has_its_severity() {
        let ok = vec![Step::ok("cut", "done")];
        let failed = vec![Step::ok("cut", "done"), Step::failed("tag", "no")];
        let critical = vec![Step::critical("quarantine", "no")];
        let reason = || "r".to_owned();
        let cases = [
            (
                Outcome::Remediated { steps: ok.clone() },
                false,
                Severity::Warning,
            ),
            (Outcome::Partial { steps: failed }, false, Severity::Warning),
            (
                Outcome::Partial { steps: critical },
                false,
                Severity::Critical,
            ),
            (
                Outcome::DryRun {
                    plan: vec!["x".into()],
                },
                false,
                Severity::Warning,
            ),
            (
                Outcome::Held { reason: reason() },
                false,
                Severity::Critical,
            ),
            (
                Outcome::Exempt { reason: reason() },
                false,
                Severity::Critical,
            ),
            (
                Outcome::Unfinished {
                    not_confirmed: vec!["x".into()],
                },
                false,
                Severity::Critical,
            ),
            (Outcome::Remediated { steps: ok }, true, Severity::Warning),
            (
                Outcome::AlreadyRemediated { reason: reason() },
                true,
                Severity::Warning,
            ),
            (Outcome::Duplicate, false, Severity::Info),
            (
                Outcome::Joined {
                    incident: "d-1".into(),
                },
                false,
                Severity::Info,
            ),
            (
                Outcome::NothingToDo { reason: reason() },
                false,
                Severity::Info,
            ),
            (
                Outcome::AlreadyRemediated { reason: reason() },
                false,
                Severity::Info,
            ),
        ];
        for (outcome, resumed, expected) in cases {
            let n = compose_for(&outcome, resumed);
            assert_eq!(n.severity, expected, "{} resumed={resumed}", outcome.name());
            assert_eq!(n.incident, "d-1");
            assert_eq!(n.headline.starts_with("resumed: "), resumed);
        }
    }

    #[test]
    fn a_containment_lists_its_evidence_record_and_release() {
        let steps = vec![
            Step::ok("snapshot vol-1", "snap-1 of vol-1").with_evidence("snap-1"),
            Step::ok("snapshot vol-2", "snap-2 of vol-2").with_evidence("snap-2"),
        ];
        let n = compose_for(&Outcome::Remediated { steps }, false);
        assert!(
            n.next_steps[0].starts_with("Evidence kept: snap-1, snap-2."),
            "{:?}",
            n.next_steps
        );
        assert!(
            n.next_steps[1].starts_with("The whole story: tourniquet show d-1 (history table"),
            "{:?}",
            n.next_steps
        );
        assert!(n.next_steps[1].contains("tourniquet-history, pk INCIDENT#i-1"));
        assert!(n.next_steps.contains(&"look at the snapshots".to_owned()));
        assert!(
            n.body
                .iter()
                .any(|p| p.starts_with("To release (undo)") && p.contains("put it back"))
        );
        assert_eq!(n.links.len(), 1);
        assert!(n.body[0].contains("Incident d-1"));
    }

    #[test]
    fn a_held_case_says_what_to_decide_and_how_to_act_by_hand() {
        let n = compose_for(
            &Outcome::Held {
                reason: "3 isolations in 60 minutes".into(),
            },
            false,
        );
        assert!(n.next_steps[0].starts_with("Decide now whether i-1 must be isolated"));
        assert!(n.next_steps[0].contains("3 isolations in 60 minutes"));
        assert!(n.next_steps[1].contains("cut it off; snapshot its volume"));
        assert!(
            !n.body.iter().any(|p| p.starts_with("To release")),
            "nothing to release"
        );
    }
}
