//! The verify stage: the live instance checked before anything is changed, beside GuardDuty's
//! word on a finding; and an incident left open resumed on the live state.

use serde_json::{Value, json};
use tourniquet::{Case, Context, Severity, Trigger, Verdict, VerifyError};

use crate::Isolator;
use crate::finding;
use crate::instance::Instance;
use crate::target::{Seen, Target};

/// The confirmation of a finding, boxed.
type Confirming<'s> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Verdict<Target>>, VerifyError>> + Send + 's>,
>;

impl Isolator {
    /// A case against the live state: the taint's removal is only reported, an unconfirmed
    /// finding replaced by its notice, an instance gone, untainted or exempt left alone;
    /// anything else is isolated.
    pub(crate) async fn check(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Verdict<Target>, VerifyError> {
        if let Trigger::ApiCall(_, call) = ctx.trigger
            && call.event_name == "DeleteTags"
        {
            return self.taint_removed(ctx, case).await;
        }
        let (live, confirmed) = tokio::join!(self.live(case), self.finding_confirmed(ctx, case));
        let (found, groups) = live?;
        if let Some(refused) = confirmed? {
            return Ok(refused);
        }
        let Some(inst) = found else {
            return Ok(Verdict::NothingToDo(format!(
                "{} does not exist",
                case.resource
            )));
        };
        if let Some(left) = self.left_alone(ctx.trigger, &inst) {
            return Ok(left);
        }
        let before = json!(inst);
        let undo = self.undo(&inst);
        Ok(Verdict::Act(self.subject(
            inst,
            groups,
            before,
            undo,
            ctx.trigger,
        )))
    }

    /// Why the live instance is not isolated, if it is not: it is going away, its taint was
    /// removed, or it is exempt.
    fn left_alone(&self, trigger: &Trigger, inst: &Instance) -> Option<Verdict<Target>> {
        if matches!(inst.state.as_str(), "terminated" | "shutting-down") {
            return Some(Verdict::NothingToDo(format!(
                "{} is {}",
                inst.id, inst.state
            )));
        }
        if let Some(gone) = self.taint_gone(trigger, inst) {
            return Some(gone);
        }
        inst.tags.get(&self.config.exempt_key).map(|why| {
            Verdict::Exempt(format!(
                "{} carries {}={why}",
                inst.id, self.config.exempt_key
            ))
        })
    }

    /// [`Self::confirm_finding`], built on the heap in a frame of its own: the verify future
    /// is polled deep in the pipeline, where debug builds are near the test threads' stack.
    fn finding_confirmed<'s>(
        &'s self,
        ctx: &'s Context<'_>,
        case: &'s Case<Seen>,
    ) -> Confirming<'s> {
        Box::pin(self.confirm_finding(ctx, case))
    }

    /// For a GuardDuty finding: `None` once GuardDuty confirms it, else the notice that
    /// replaces the isolation.
    async fn confirm_finding(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Option<Verdict<Target>>, VerifyError> {
        let Trigger::Finding(_, f) = ctx.trigger else {
            return Ok(None);
        };
        let (scope, id) = self.locate(&case.resource);
        let clients = self.clients.get(&scope).await.map_err(VerifyError::from)?;
        let (severity, why) = match finding::confirm(&clients.guardduty, f, id)
            .await
            .map_err(VerifyError::read)?
        {
            finding::Confirmation::Confirmed => return Ok(None),
            finding::Confirmation::Refuted(why) => (Severity::Warning, why),
            finding::Confirmation::Unconfirmable(why) => (Severity::Critical, why),
        };
        let detail = match severity {
            Severity::Critical => format!(
                "GuardDuty could not be asked whether finding {} is real ({why}), so {id} was \
                 not isolated. If the finding is in the GuardDuty console, isolate {id} by \
                 hand (tourniquet's direct invocation, or tag it {}).",
                f.id, self.config.taint_key
            ),
            _ => format!(
                "GuardDuty does not back this finding ({why}), so {id} was not isolated: the \
                 event was not GuardDuty's. Find who invoked the function or put it on the bus."
            ),
        };
        Ok(Some(Verdict::Notice {
            severity,
            headline: format!("unconfirmed finding, not isolated: {id}"),
            detail,
            facts: json!({"finding": f.id, "instance": id, "detector": f.detector_id,
                          "unconfirmed": why}),
        }))
    }

    /// The live instance, whatever its tags say now (an attacker may have removed the taint),
    /// with the undo built from the state recorded when the incident opened.
    pub(crate) async fn resumed(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
        before: &Value,
    ) -> Result<Verdict<Target>, VerifyError> {
        let original: Instance =
            serde_json::from_value(before.clone()).map_err(VerifyError::Recorded)?;
        let (found, groups) = self.live(case).await?;
        let inst = match found {
            Some(inst) if inst.state != "terminated" => inst,
            _ => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} no longer exists or is terminated",
                    case.resource
                )));
            }
        };
        let undo = self.undo(&original);
        Ok(Verdict::Act(self.subject(
            inst,
            groups,
            before.clone(),
            undo,
            ctx.trigger,
        )))
    }
}
