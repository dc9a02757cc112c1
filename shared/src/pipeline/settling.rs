//! Settling: how a case's incident ends and what a person is told. Every stage ends in a
//! [`Settlement`]; this is the one place that ends an incident's lock and the one place
//! that sends a message.

use std::time::SystemTime;

use serde_json::Value;

use super::{Run, report};
use crate::contract::{CaseReport, Context, Outcome, Remediation, Subject};
use crate::history::{Incident, IncidentStatus};
use crate::ledger::Ledger;
use crate::notify::report::{Verbs, compose};
use crate::notify::{Notification, Pager};

/// How an incident's lock ends. One word each: these are the only endings there are.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ending {
    /// No lock of this run's to end: none was taken (no history, joined, a duplicate) or it
    /// was taken by another invocation.
    Keep,
    /// The lock closes with this outcome and the incident item is left as it is: nothing
    /// was done (noticed, exempt, nothing to do) or the item has its end already.
    Release { outcome: String, remediated: bool },
    /// The incident item gets its end (status and steps) and the lock closes.
    Close(IncidentStatus),
    /// Nothing changed: the lock closes and the delivery is forgotten, so that Lambda's
    /// retry of it acts.
    GiveBack,
    /// The incident stays open and its lease ends now: the retry resumes it at once.
    Lapse,
}

/// What a person is told of a case.
pub(super) enum Tell<'s, S> {
    Nobody,
    /// The case's message, composed from its outcome (and what was found, if anything).
    Compose(Option<&'s Subject<S>>),
    /// A message of its own (a notice, an incident that cannot be resumed).
    Notice(Box<Notification>),
}

/// How a case ends: its outcome, what becomes of its lock, and who is told.
pub(super) struct Settlement<'s, S> {
    /// The incident this run holds, if it holds one.
    pub incident: Option<Incident>,
    pub ending: Ending,
    pub tell: Tell<'s, S>,
    pub outcome: Outcome,
    pub resumed: bool,
}

impl Ending {
    /// Whether the lock closes: the message is kept on it until sent.
    fn closes(&self) -> bool {
        matches!(self, Self::Release { .. } | Self::Close(_))
    }
}

impl<S> Settlement<'_, S> {
    /// An outcome with no lock to end and nobody to tell.
    pub(super) fn quiet(outcome: Outcome, resumed: bool) -> Self {
        Self {
            incident: None,
            ending: Ending::Keep,
            tell: Tell::Nobody,
            outcome,
            resumed,
        }
    }
}

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    /// Ends the lock, keeping the message on it (the outbox), then tells a person and marks
    /// the message sent. A crash between the two leaves the message kept: the delivery's
    /// retry, or the sweep, sends it ([`Run::resend`]).
    pub(super) async fn settle<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        resource: &str,
        s: Settlement<'_, R::Subject>,
    ) -> CaseReport {
        let message = message_of(ctx, r, resource, &s);
        let detail = match &s.ending {
            Ending::Close(_) => serde_json::to_value(&s.outcome).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let outbox = message
            .as_ref()
            .filter(|_| s.incident.is_some() && s.ending.closes())
            .and_then(|n| serde_json::to_string(n).ok());
        let incident = s.incident.as_ref();
        (self.end(ctx, r, incident, &s.ending, &detail, outbox.as_deref())).await;
        let report = report(resource, s.outcome, s.resumed);
        let Some(n) = message else {
            return report;
        };
        let report = self.tell(&n, report).await;
        // A held case's message goes out with the others, later: marked sent then.
        if outbox.is_some() && report.notified.is_some() && !self.pager.defers(&n) {
            self.mark_sent(r, resource).await;
        }
        report
    }

    /// The kept message went out: it is not sent again.
    pub(super) async fn mark_sent<R: Remediation>(&self, r: &R, resource: &str) {
        if let Err(e) = self.ledger.sent(r.action(), resource).await {
            tracing::warn!(error = %e, %resource, "sent, but not marked sent: it may go out twice");
        }
    }

    /// The one place a lock ends. A failure is logged: the lease then runs out and the
    /// sweep finds the incident as it was left.
    async fn end<R: Remediation>(
        &self,
        ctx: &Context<'_>,
        r: &R,
        incident: Option<&Incident>,
        ending: &Ending,
        detail: &Value,
        outbox: Option<&str>,
    ) {
        let Some(i) = incident else { return };
        let (action, resource, id) = (r.action(), i.resource.as_str(), i.id.as_str());
        let ended = match ending {
            Ending::Keep => Ok(()),
            Ending::Release {
                outcome,
                remediated,
            } => {
                (self.ledger)
                    .release(action, resource, id, outcome, *remediated, outbox)
                    .await
            }
            Ending::Close(status) => {
                let remediated = *status == IncidentStatus::Remediated;
                let now = SystemTime::now();
                let (closed, released) = tokio::join!(
                    self.ledger.close_incident(i, *status, detail, now),
                    self.ledger
                        .release(action, resource, id, status.as_str(), remediated, outbox)
                );
                closed.and(released)
            }
            Ending::GiveBack => {
                (self.ledger)
                    .forget(action, resource, id, ctx.delivery_id)
                    .await
            }
            Ending::Lapse => {
                (self.ledger)
                    .lapse(action, resource, id, SystemTime::now())
                    .await
            }
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, %resource, ending = ?ending, "could not end the incident's lock");
        }
    }

    /// Sends a message for a case: the report says whether it went out.
    pub(super) async fn tell(&self, n: &Notification, mut report: CaseReport) -> CaseReport {
        match self.send(n).await {
            Ok(()) => report.notified = Some(n.severity),
            Err(e) => report.notify_error = Some(e),
        }
        report
    }

    /// The one place a message goes out.
    pub(super) async fn send(&self, n: &Notification) -> Result<(), String> {
        self.pager.page(n).await.map_err(|e| {
            tracing::error!(error = %e, resource = %n.resource, "notification failed");
            e.to_string()
        })
    }
}

/// The message a settlement tells, if any: its own, or composed from the outcome.
fn message_of<R: Remediation>(
    ctx: &Context<'_>,
    r: &R,
    resource: &str,
    s: &Settlement<'_, R::Subject>,
) -> Option<Notification> {
    match &s.tell {
        Tell::Nobody => None,
        Tell::Notice(n) => Some((**n).clone()),
        Tell::Compose(subject) => {
            let verbs = Verbs {
                action: r.action(),
                done: r.done(),
            };
            Some(compose(
                ctx, verbs, resource, *subject, &s.outcome, s.resumed,
            ))
        }
    }
}
