//! Deciding, for an incident this run holds: the live verdict, the protected principals,
//! then the second round at once (the safeguard's slot and the record of the state before).
//! Only a case that passes all of them is acted on.

use super::opening::Opened;
use super::settling::{Ending, Settlement, Tell};
use super::{Run, holder};
use crate::contract::{Case, CaseReport, Context, Outcome, Remediation, Subject, Verdict};
use crate::events::Principal;
use crate::exempt::PrincipalExemption;
use crate::history::{Incident, IncidentStatus};
use crate::ledger::Ledger;
use crate::notify::{Notification, Pager};
use crate::safeguard::{SlotDecision, Survey};

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// From an open incident and a live verdict to its settlement.
    pub(super) async fn proceed<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        opened: Opened<R::Subject>,
    ) -> CaseReport {
        let Opened {
            incident,
            remediated,
            verdict,
            survey,
            resumed,
        } = opened;
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                let s = give_back(incident, e.to_string(), resumed);
                return self.settle(ctx, r, &case.resource, s).await;
            }
        };
        let settlement = match &verdict {
            Verdict::Act(subject) => match r.settled(&subject.subject).zip(remediated) {
                Some((why, by)) => {
                    let settled =
                        Verdict::AlreadyRemediated(format!("{why}; incident {by} remediated it"));
                    self.conclude(ctx, r, case, incident, &settled, resumed)
                        .await
                }
                None => {
                    self.decide(ctx, r, case, incident, &verdict, subject, survey, resumed)
                        .await
                }
            },
            other => self.conclude(ctx, r, case, incident, other, resumed).await,
        };
        self.settle(ctx, r, &case.resource, settlement).await
    }

    /// A case to act on: unless its actor is protected, the second round, then the act.
    #[allow(clippy::too_many_arguments)]
    async fn decide<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        mut incident: Incident,
        verdict: &Verdict<R::Subject>,
        subject: &'s Subject<R::Subject>,
        survey: Option<Survey>,
        resumed: bool,
    ) -> Settlement<'s, R::Subject> {
        let settle = |incident, ending, outcome| Settlement {
            incident: Some(incident),
            ending,
            tell: Tell::Compose(Some(subject)),
            outcome,
            resumed,
        };
        if let Some(reason) = self.protected(ctx, r) {
            let ending = Ending::Release {
                outcome: "exempt".into(),
                remediated: false,
            };
            return settle(incident, ending, Outcome::Exempt { reason });
        }
        incident.before = subject.before.clone();
        if let Err((ending, outcome)) = self
            .second_round(ctx, r, case, &incident, verdict, survey)
            .await
        {
            return settle(incident, ending, outcome);
        }
        if ctx.dry_run {
            let outcome = Outcome::DryRun {
                plan: subject.plan.clone(),
            };
            return settle(incident, Ending::Close(IncidentStatus::DryRun), outcome);
        }
        self.act(ctx, r, case, incident, subject, resumed).await
    }

    /// Why the actor may not be countered: a protected principal, for a remediation that
    /// counters the actor.
    fn protected<R: Remediation>(&self, ctx: &Context<'_>, r: &R) -> Option<String> {
        if !r.counters_actor() {
            return None;
        }
        let actor = ctx.actor?;
        match self.fw.exemptions.check(actor) {
            Some(PrincipalExemption::Protected(pattern)) => Some(format!(
                "{} is a protected principal ({pattern})",
                Principal::display_arn(actor)
            )),
            _ => None,
        }
    }

    /// The second round, at once: take the safeguard's slot, record the incident as opening
    /// and let the remediation record its own history. A case that may not go on is held.
    async fn second_round<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: &Incident,
        verdict: &Verdict<R::Subject>,
        survey: Option<Survey>,
    ) -> Result<(), (Ending, Outcome)> {
        let opening = if ctx.dry_run {
            IncidentStatus::DryRun
        } else {
            IncidentStatus::InProgress
        };
        let holder = holder(self.fw.function(), &case.resource);
        let (slot, recorded, noted) = tokio::join!(
            async {
                match (r.safeguard(), survey) {
                    (Some(_), Some(s)) if s.taken_by(&holder) => SlotDecision::Granted { slot: 0 },
                    (Some(sg), Some(s)) => sg.claim(s, &holder, ctx.now).await,
                    _ => SlotDecision::Granted { slot: 0 },
                }
            },
            self.ledger.open_incident(incident, opening),
            Box::pin(r.record(ctx, case, verdict))
        );
        let recorded_ok = recorded.is_ok();
        let noted = noted.err().map(|e| e.to_string());
        if let Some(e) = recorded.err().map(|e| e.to_string()).or(noted) {
            let held = Outcome::Held {
                reason: format!("cannot record before acting, failing closed: {e}"),
            };
            let ending = if recorded_ok {
                Ending::Close(IncidentStatus::Held)
            } else {
                Ending::Release {
                    outcome: "held".into(),
                    remediated: false,
                }
            };
            return Err((ending, held));
        }
        match slot {
            SlotDecision::Refused { reason } => Err((
                Ending::Close(IncidentStatus::Held),
                Outcome::Held { reason },
            )),
            SlotDecision::Granted { .. } => Ok(()),
        }
    }

    /// A verdict that acts on nothing: its record, the lock's ending, a person told if needed.
    async fn conclude<'s, R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        case: &Case<R::Target>,
        incident: Incident,
        verdict: &Verdict<R::Subject>,
        resumed: bool,
    ) -> Settlement<'s, R::Subject>
    where
        R::Subject: 's,
    {
        if let Err(error) = Box::pin(r.record(ctx, case, verdict)).await {
            return give_back(incident, error.to_string(), resumed);
        }
        if let Some(told) = notice(ctx, case, &incident, verdict, resumed) {
            return told;
        }
        let (outcome, status) = concluded(verdict);
        let ending = if resumed {
            // The abandoned incident's record says in-progress: give it its end.
            Ending::Close(status)
        } else {
            Ending::Release {
                outcome: outcome.name().to_owned(),
                remediated: status == IncidentStatus::Remediated,
            }
        };
        let told = resumed || matches!(outcome, Outcome::Exempt { .. });
        Settlement {
            incident: Some(incident),
            ending,
            tell: if told {
                Tell::Compose(None)
            } else {
                Tell::Nobody
            },
            outcome,
            resumed,
        }
    }
}

/// Nothing changed: the delivery is given back, and the answer asks Lambda for its retry.
fn give_back<'s, S>(incident: Incident, error: String, resumed: bool) -> Settlement<'s, S> {
    Settlement {
        incident: Some(incident),
        ending: Ending::GiveBack,
        tell: Tell::Nobody,
        outcome: Outcome::Unverified { error },
        resumed,
    }
}

/// A verdict that only tells: its own message, the lock released. `None` for any other.
fn notice<'s, S, T>(
    ctx: &Context<'_>,
    case: &Case<T>,
    incident: &Incident,
    verdict: &Verdict<S>,
    resumed: bool,
) -> Option<Settlement<'s, S>> {
    let Verdict::Notice {
        severity,
        headline,
        detail,
        facts,
    } = verdict
    else {
        return None;
    };
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
    Some(Settlement {
        incident: Some(incident.clone()),
        ending: Ending::Release {
            outcome: "noticed".into(),
            remediated: false,
        },
        tell: Tell::Notice(Box::new(n)),
        outcome: Outcome::Noticed {
            detail: detail.clone(),
        },
        resumed,
    })
}

/// The outcome and the recorded status of a verdict that acts on nothing.
fn concluded<S>(verdict: &Verdict<S>) -> (Outcome, IncidentStatus) {
    match verdict {
        // Never reached: an acting verdict goes on to act, and a notice tells. Were it,
        // nothing was done.
        Verdict::Act(_) | Verdict::Notice { .. } => (
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
    }
}
