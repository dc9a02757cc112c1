//! Admission, before any case: is the event genuine, is it Tourniquet's own doing, and may
//! Tourniquet act in its account? Nothing here reads or writes history.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use super::{HandleError, Run, report};
use crate::contract::{Outcome, Remediation, Summary};
use crate::events::Trigger;
use crate::exempt::PrincipalExemption;
use crate::ledger::Ledger;
use crate::members::{Refusal, Scope};
use crate::notify::Pager;
use crate::{refused, trust};

/// What admission decided for an event.
pub(super) enum Admission {
    Admitted,
    /// Not what it claims to be: nothing is changed or counted, a person is told.
    Forged(trust::Forgery),
    /// Caused by one of Tourniquet's own roles: ignored.
    Own,
    /// Of an account Tourniquet may not act in.
    Refused(Scope, Refusal),
}

impl<L: Ledger, P: Pager> Run<'_, L, P> {
    pub(super) async fn admit<R: Remediation>(&self, r: &R, trigger: &Trigger) -> Admission {
        let fw = self.fw;
        if let Err(forgery) = trust::admit(trigger, SystemTime::now()) {
            return Admission::Forged(forgery);
        }
        let own = trigger.actor().is_some_and(|a| {
            fw.exemptions.check(a) == Some(PrincipalExemption::OwnRole)
                || trigger
                    .envelope()
                    .is_some_and(|e| fw.members.own_session(a, &e.account))
        });
        if own {
            return Admission::Own;
        }
        let scope = fw.members.scope_of(trigger);
        if r.acts_in_members()
            && let Err(refusal) = fw.members.enter(&scope).await
        {
            return Admission::Refused(scope, refusal);
        }
        Admission::Admitted
    }

    /// A forged event: answered normally, so that Lambda does not retry it, unless nobody
    /// could be told. The future is built on the heap here, not in `handle`'s frame, which
    /// debug builds keep near the stack's limit.
    pub(super) fn reject_forgery<'s>(
        &'s self,
        forgery: trust::Forgery,
        summary: Summary,
    ) -> Pin<Box<dyn Future<Output = Result<Summary, HandleError>> + Send + 's>>
    where
        L: Sync,
        P: Sync,
    {
        Box::pin(async move { self.tell_forgery(&forgery, summary).await })
    }

    async fn tell_forgery(
        &self,
        forgery: &trust::Forgery,
        mut summary: Summary,
    ) -> Result<Summary, HandleError> {
        tracing::warn!(source = %forgery.claimed_source, why = %forgery.why, "forged event ignored");
        let n = trust::notice(forgery, &summary.delivery_id, self.fw.function());
        let noticed = Outcome::Noticed {
            detail: forgery.to_string(),
        };
        let report = self.tell(&n, report(&n.resource, noticed, false)).await;
        if let Some(error) = &report.notify_error {
            return Err(HandleError::Retry(format!(
                "a forged event was ignored and nobody could be told: {error}"
            )));
        }
        summary.ignored = Some(format!("forged: {forgery}"));
        summary.cases.push(report);
        Ok(summary)
    }

    /// An event of an account Tourniquet may not act in: nothing is changed, a person is
    /// told. A refusal that may pass (STS throttled or silent) is retried instead: Lambda
    /// retries, and the failed-events alarm pages if every retry fails.
    pub(super) async fn refuse<R: Remediation>(
        &self,
        r: &R,
        trigger: &Trigger,
        scope: &Scope,
        refusal: Refusal,
        mut summary: Summary,
    ) -> Result<Summary, HandleError> {
        if refusal.transient() {
            return Err(HandleError::Retry(refusal.to_string()));
        }
        let threatening = r.threatening(trigger);
        let n = refused::notice(trigger, &summary.delivery_id, scope, &refusal, threatening);
        summary.ignored = Some(format!("not acted on: {refusal}"));
        let noticed = Outcome::Noticed {
            detail: refusal.to_string(),
        };
        let report = self.tell(&n, report(&n.resource, noticed, false)).await;
        if let Some(error) = &report.notify_error {
            return Err(HandleError::Retry(format!(
                "an event of {} was refused and nobody could be told: {error}",
                scope.describe()
            )));
        }
        summary.cases.push(report);
        Ok(summary)
    }
}
