//! The verify stage: the offense counted in its window, a protected principal spared, then
//! what the offender's kind calls for over the limit, planned from the live state.

use serde_json::Value;
use tourniquet::exempt::PrincipalExemption;
use tourniquet::{Case, Context, Subject, Verdict, VerifyError};

use crate::Disabler;
use crate::clients::Clients;
use crate::message::{follow_up, identity_center_notice};
use crate::offender::Offender;
use crate::offense::{self, Offense, Tally};
use crate::plan::{Disable, Plan, Planned};
use crate::user;

impl Disabler {
    /// Counts the offense; over the limit, plans the disable of its offender.
    pub(crate) async fn judge(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
    ) -> Result<Verdict<Disable>, VerifyError> {
        let offender = Offender::of(&case.target.principal);
        let key = offender.key();
        let r = &self.clients_for(key).await?;
        let tally = offense::tally(&self.history, &self.config, key, ctx, &case.target).await?;
        if let Some(allowed) = tally.allowed(key) {
            return Ok(allowed);
        }
        if let Some(PrincipalExemption::Protected(pattern)) =
            self.exemptions.check(&case.target.principal)
        {
            let record = &tally.record;
            return Ok(Verdict::Exempt(format!(
                "{key} is a protected principal ({pattern})\n{record}"
            )));
        }
        match self
            .plan_kind(r, ctx, &offender, &case.target, &tally)
            .await?
        {
            Planned::Act(p) => Ok(subject(p, tally.record, ctx)),
            Planned::Done(verdict) => Ok(verdict),
        }
    }

    /// A case resumed after the invocation that died: judged again, what is still active now
    /// is disabled; a user's undo also names what it had already deactivated.
    pub(crate) async fn judge_again(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
        before: &Value,
    ) -> Result<Verdict<Disable>, VerifyError> {
        let mut verdict = self.judge(ctx, case).await?;
        user::with_recorded_keys(&mut verdict, before);
        Ok(verdict)
    }

    /// What the offender's kind calls for, over the limit.
    async fn plan_kind(
        &self,
        r: &Clients,
        ctx: &Context<'_>,
        offender: &Offender,
        offense: &Offense,
        tally: &Tally,
    ) -> Result<Planned, VerifyError> {
        let (offenses, record) = (&tally.offenses, &tally.record);
        Ok(match offender {
            Offender::Untouchable { why, .. } => {
                Planned::Done(Verdict::Exempt(format!("{why}\n{record}")))
            }
            Offender::IdentityCenter { role_arn, person } => {
                Planned::Done(identity_center_notice(role_arn, person, record))
            }
            Offender::User { name, .. } => self.plan_user(r, offender, offense, name).await?,
            Offender::RoleSession { .. } => {
                self.plan_role(r, ctx, offender, offense, offenses).await?
            }
            Offender::InstanceSession { .. } => {
                self.plan_instance(r, ctx, offender, offense, offenses)
                    .await?
            }
        })
    }
}

/// The disable to make, as the notification tells it: the offender's record (and why the
/// answer is no wider), the plan, the undo, and where the investigation starts.
fn subject(p: Plan, record: String, ctx: &Context<'_>) -> Verdict<Disable> {
    let record = match p.narrowed {
        Some(why) => format!("{record}\nWhy no wider: {why}."),
        None => record,
    };
    let (next_steps, links) = follow_up(&p.disable.offender, ctx);
    Verdict::Act(Subject {
        subject: p.disable,
        before: p.before,
        summary: record,
        plan: p.plan,
        undo: p.undo,
        next_steps,
        links,
    })
}
