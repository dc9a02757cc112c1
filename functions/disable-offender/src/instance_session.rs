//! An instance's session offender: confirmed with EC2 and IAM, and answered on the instance
//! (see `instance`): its credentials denied on the role by `ec2:SourceInstanceARN`, the
//! instance tainted, never the role's other sessions.

use serde_json::json;
use tourniquet::history::OffenseRecord;
use tourniquet::members::Scope;
use tourniquet::{Context, Step, Verdict, VerifyError};

use crate::Disabler;
use crate::clients::Clients;
use crate::instance::{self, Found, Instance};
use crate::offender::Offender;
use crate::offense::Offense;
use crate::plan::{Disable, Plan, Planned, disable};

impl Disabler {
    /// An instance's session: confirmed with EC2 and IAM, answered on the instance. A session
    /// only named like an instance, of no such instance, is a role session like any other.
    pub(crate) async fn plan_instance(
        &self,
        r: &Clients,
        ctx: &Context<'_>,
        offender: &Offender,
        offense: &Offense,
        offenses: &[OffenseRecord],
    ) -> Result<Planned, VerifyError> {
        let Offender::InstanceSession {
            role_arn,
            role_name,
            session_arn,
            user_id,
            instance_id,
            delivered,
        } = offender
        else {
            return Err(VerifyError::Mismatch(format!(
                "{} is not an instance's session",
                offender.key()
            )));
        };
        let found = self
            .confirm_instance(r, offense, session_arn, instance_id, role_name)
            .await?;
        let inst = match found {
            Found::Instance(inst) => inst,
            Found::Not(why) if *delivered => {
                return self
                    .plan_unconfirmed(r, offender, role_name, user_id, why)
                    .await;
            }
            Found::Not(_) => {
                let role = Offender::RoleSession {
                    role_arn: role_arn.clone(),
                    role_name: role_name.clone(),
                    session_arn: session_arn.clone(),
                    user_id: user_id.clone(),
                };
                return self.plan_role(r, ctx, &role, offense, offenses).await;
            }
        };
        if inst.tainted && inst.denied {
            return Ok(Planned::Done(Verdict::AlreadyRemediated(format!(
                "the credentials of {} are denied on role {role_name} and it is tainted",
                inst.id
            ))));
        }
        Ok(Planned::Act(instance_plan(
            offender,
            role_name,
            inst,
            &self.config.taint_key,
        )))
    }

    /// The instance the session names, as EC2 and IAM have it, in the account and the region
    /// of the call.
    async fn confirm_instance(
        &self,
        r: &Clients,
        offense: &Offense,
        session_arn: &str,
        instance_id: &str,
        role_name: &str,
    ) -> Result<Found, VerifyError> {
        let account = tourniquet::arn::Arn::parse(session_arn).map_or("", |a| a.account);
        let region = offense.region.clone();
        let ec2 = self
            .clients
            .get(&Scope::new(account, &region))
            .await
            .map_err(VerifyError::from)?;
        instance::confirm(
            &ec2.ec2,
            &r.iam,
            instance_id,
            role_name,
            &region,
            &self.config.taint_key,
        )
        .await
        .map_err(VerifyError::read)
    }

    /// EC2 delivered the credentials, to an instance not found where the call was made: every
    /// session of the instance carries its id as the session name.
    async fn plan_unconfirmed(
        &self,
        r: &Clients,
        offender: &Offender,
        role_name: &str,
        user_id: &str,
        why: String,
    ) -> Result<Planned, VerifyError> {
        let planned = self.plan_session(r, offender, role_name, user_id).await?;
        let Planned::Act(mut p) = planned else {
            return Ok(planned);
        };
        p.plan.push(format!(
            "the instance behind it could not be confirmed ({why}): isolate it by hand"
        ));
        p.disable.unconfirmed = Some(why);
        Ok(Planned::Act(p))
    }

    /// Answered on the instance when it was confirmed; otherwise its session is denied by
    /// name, and a person isolates the instance.
    pub(crate) async fn answer_instance_session(
        &self,
        r: &Clients,
        disable: &Disable,
        role_name: &str,
        user_id: &str,
        reason: &str,
    ) -> Vec<Step> {
        match (&disable.instance, &disable.unconfirmed) {
            (Some(inst), _) => self.answer_on_instance(r, role_name, inst, reason).await,
            (None, unconfirmed) => {
                let mut steps = self.disable_session(r, role_name, user_id).await;
                steps.push(Step::critical(
                    "instance",
                    format!(
                        "the instance behind session {user_id} was not confirmed ({}): its credentials are denied by session name; isolate it by hand",
                        unconfirmed.as_deref().unwrap_or("unknown")
                    ),
                ));
                steps
            }
        }
    }

    /// The instance's credentials denied and the instance tainted, with the clients of its
    /// account and region.
    async fn answer_on_instance(
        &self,
        r: &Clients,
        role_name: &str,
        inst: &Instance,
        reason: &str,
    ) -> Vec<Step> {
        let scope = Scope::new(
            tourniquet::arn::Arn::parse(&inst.arn).map_or("", |a| a.account),
            &inst.region,
        );
        let ec2 = match self.clients.get(&scope).await {
            Ok(there) => there.ec2,
            Err(e) => {
                return vec![Step::critical(
                    "reach",
                    format!("NOTHING done on {}: {e}", inst.id),
                )];
            }
        };
        instance::answer(
            &ec2,
            &r.iam,
            &self.history,
            role_name,
            inst,
            &self.config.taint_key,
            reason,
        )
        .await
    }
}

/// The answer on a confirmed instance: its credentials denied on the role, the instance
/// tainted for isolate-instance.
fn instance_plan(offender: &Offender, role_name: &str, inst: Instance, taint: &str) -> Plan {
    Plan {
        before: json!({"role": role_name, "instance": inst.arn, "denied": inst.denied,
                       "tainted": inst.tainted}),
        plan: vec![
            format!(
                "deny the sessions of role {role_name} delivered to {} \
                 (ec2:SourceInstanceARN, inline policy {}): the role's other instances \
                 keep working",
                inst.arn,
                tourniquet::credentials::POLICY_NAME
            ),
            format!(
                "taint {} ({taint}): isolate-instance isolates it, under its own safeguard \
                 and incident",
                inst.id
            ),
        ],
        undo: vec![
            format!(
                "remove {} from the ec2:SourceInstanceARN list of inline policy {} on role \
                 {role_name} (delete the policy when no instance is left)",
                inst.arn,
                tourniquet::credentials::POLICY_NAME
            ),
            format!(
                "release the isolation of {} (its own notification says how)",
                inst.id
            ),
        ],
        disable: Disable {
            instance: Some(inst),
            ..disable(offender)
        },
        narrowed: Some(
            "an instance's credentials are answered on the instance, never on the role's \
             other sessions"
                .to_owned(),
        ),
    }
}
