//! What disabling an offender over the limit will do, by kind of offender, from the live
//! state: each kind returns one [`Planned`].
//!
//! A response is no wider than the offense: an instance's credentials are answered on the
//! instance; a role's sessions are all denied (`aws:TokenIssueTime`) only when one of its
//! calls in the window actually weakened something and no AWS service runs the workload
//! behind it; denied attempts alone, and a Lambda function's or an ECS task's session
//! (assumed by the service, named after the function or the task), are answered on the
//! offending session (`aws:userid`).

use serde_json::{Value, json};
use tourniquet::history::OffenseRecord;
use tourniquet::members::Scope;
use tourniquet::time::rfc3339;
use tourniquet::{Context, Principal, Severity, Verdict, VerifyError};

use crate::instance::{self, Found};
use crate::upstream::Upstream;
use crate::{Disable, Disabler, Offender, Offense, Reach, RoleDisableMode, policy, user_undo};

/// A disable to make, with the state before, the plan and the undo, for the notification.
pub struct Plan {
    pub disable: Disable,
    pub before: Value,
    pub plan: Vec<String>,
    pub undo: Vec<String>,
    /// Why the answer is narrower than the mode asks, for the notification.
    pub narrowed: Option<String>,
}

/// What the live state calls for.
pub enum Planned {
    Act(Plan),
    /// Nothing to disable: already done, or gone.
    Done(Verdict<Disable>),
}

fn disable(offender: &Offender) -> Disable {
    Disable {
        offender: offender.clone(),
        active_keys: Vec::new(),
        revoke_before: None,
        upstream: None,
        instance: None,
        unconfirmed: None,
    }
}

impl Disabler {
    /// An IAM user, once IAM confirms the record: the user exists, and a long-term access key
    /// the record names is one of the user's.
    pub(crate) async fn plan_user(
        &self,
        r: &Reach,
        offender: &Offender,
        offense: &Offense,
        name: &str,
    ) -> Result<Planned, VerifyError> {
        let Some(live) = self.live_user(r, name).await.map_err(VerifyError)? else {
            return Ok(Planned::Done(Verdict::NothingToDo(format!(
                "user {name} no longer exists"
            ))));
        };
        if let Principal::IamUser {
            access_key_id: Some(key),
            ..
        } = &offense.principal
            // Temporary keys (ASIA…, a console or GetSessionToken session) are not listed.
            && key.starts_with("AKIA")
            && !live.keys.contains(key)
        {
            return Ok(Planned::Done(Verdict::Notice {
                severity: Severity::Warning,
                headline: format!("offense not confirmed, {name} not disabled"),
                detail: format!(
                    "The record says user {name} called with access key {key}, which IAM does \
                     not list among {name}'s keys: the record does not match IAM, so nothing was \
                     disabled. Find where the event came from."
                ),
                facts: json!({"user": name, "access_key_id": key, "keys": live.keys}),
            }));
        }
        let (keys, denied) = (live.active_keys, live.denied);
        if denied && keys.is_empty() {
            return Ok(Planned::Done(Verdict::AlreadyRemediated(format!(
                "user {name} is already disabled"
            ))));
        }
        let plan = keys
            .iter()
            .map(|k| format!("set access key {k} Inactive"))
            .chain([format!(
                "attach inline deny-all policy {}",
                policy::USER_POLICY
            )])
            .collect();
        let undo = user_undo(name, &keys);
        let before = json!({"user": name, "active_keys": keys, "deny_policy": denied});
        Ok(Planned::Act(Plan {
            disable: Disable {
                active_keys: keys,
                ..disable(offender)
            },
            before,
            plan,
            undo,
            narrowed: None,
        }))
    }

    /// A role session: the principal behind it first (CloudTrail's `AssumeRole` record), which
    /// decides, with the offenses in the window, how wide the deny is.
    pub(crate) async fn plan_role(
        &self,
        r: &Reach,
        ctx: &Context<'_>,
        offender: &Offender,
        offense: &Offense,
        offenses: &[OffenseRecord],
    ) -> Result<Planned, VerifyError> {
        let Offender::RoleSession {
            role_name, user_id, ..
        } = offender
        else {
            return Err(VerifyError(format!(
                "{} is not a role session",
                offender.key()
            )));
        };
        let found = self.upstream(r, &offense.principal).await;
        let weakened = offenses.iter().any(|o| o.succeeded);
        let service = matches!(found, Upstream::Service(_));
        let role_wide =
            self.config.role_mode == RoleDisableMode::SessionsBeforeNow && weakened && !service;
        let why_narrow = if self.config.role_mode == RoleDisableMode::ThisSession {
            None
        } else if service {
            Some(
                "the role is assumed by an AWS service for one workload: only its session is denied",
            )
        } else if !weakened {
            Some("every offense in the window was a denied attempt: only the session is denied")
        } else {
            None
        };
        let planned = if role_wide {
            self.plan_revoke(r, ctx, offender, role_name).await?
        } else {
            self.plan_session(r, offender, role_name, user_id).await?
        };
        let Planned::Act(mut p) = planned else {
            return Ok(planned);
        };
        if let Some(why) = why_narrow {
            p.plan.push(why.to_owned());
            p.narrowed = Some(why.to_owned());
        }
        match &found {
            Upstream::User {
                arn,
                name,
                active_keys,
            } => {
                p.plan.push(format!(
                    "disable IAM user {arn} too, who assumed role {role_name} (CloudTrail's \
                     AssumeRole record): its keys inactive, a deny-all policy"
                ));
                p.undo.extend(user_undo(name, active_keys));
            }
            Upstream::Service(service) => p.plan.push(format!(
                "role {role_name} was assumed by {service} for its workload: nothing upstream \
                 to disable"
            )),
            Upstream::Unknown(why) => p.plan.push(format!(
                "whoever assumed role {role_name} is not disabled: {why}"
            )),
        }
        if let Some(recorded) = p.before.as_object_mut() {
            recorded.insert("upstream".to_owned(), json!(found));
        }
        p.disable.upstream = Some(found);
        Ok(Planned::Act(p))
    }

    /// Every session of the role issued before now.
    async fn plan_revoke(
        &self,
        r: &Reach,
        ctx: &Context<'_>,
        offender: &Offender,
        role_name: &str,
    ) -> Result<Planned, VerifyError> {
        let Some(cutoff) = self
            .live_revocation(r, role_name)
            .await
            .map_err(VerifyError)?
        else {
            return Ok(Planned::Done(Verdict::NothingToDo(format!(
                "role {role_name} no longer exists"
            ))));
        };
        // The call was made by a session the live revocation already covers.
        let event_time = ctx.trigger.envelope().map(|e| e.time.as_str());
        if let (Some(c), Some(at)) = (&cutoff, event_time)
            && at < c.as_str()
        {
            return Ok(Planned::Done(Verdict::AlreadyRemediated(format!(
                "every session of role {role_name} issued before {c} is already denied"
            ))));
        }
        let now = rfc3339(ctx.now);
        let undo = match &cutoff {
            Some(old) => format!(
                "put back the earlier cutoff: aws iam put-role-policy --role-name {role_name} \
                 --policy-name {} with aws:TokenIssueTime {old}",
                policy::REVOKE_POLICY
            ),
            None => format!(
                "aws iam delete-role-policy --role-name {role_name} --policy-name {} \
                 (sessions issued since then were never affected)",
                policy::REVOKE_POLICY
            ),
        };
        Ok(Planned::Act(Plan {
            disable: Disable {
                revoke_before: Some(now.clone()),
                ..disable(offender)
            },
            before: json!({"role": role_name, "revoke_policy_cutoff": cutoff}),
            plan: vec![format!(
                "deny every session of role {role_name} issued before {now} \
                 (aws:TokenIssueTime), whatever its name"
            )],
            undo: vec![undo],
            narrowed: None,
        }))
    }

    /// The offending session alone (`aws:userid`).
    async fn plan_session(
        &self,
        r: &Reach,
        offender: &Offender,
        role_name: &str,
        user_id: &str,
    ) -> Result<Planned, VerifyError> {
        match self
            .live_role(r, role_name, user_id)
            .await
            .map_err(VerifyError)?
        {
            None => {
                return Ok(Planned::Done(Verdict::NothingToDo(format!(
                    "role {role_name} no longer exists"
                ))));
            }
            Some(true) => {
                return Ok(Planned::Done(Verdict::AlreadyRemediated(format!(
                    "session {user_id} is already denied"
                ))));
            }
            Some(false) => {}
        }
        let name = policy::session_policy_name(user_id);
        Ok(Planned::Act(Plan {
            disable: disable(offender),
            before: json!({"role": role_name, "session": user_id, "deny_policy": false}),
            plan: vec![format!(
                "attach inline policy {name} to role {role_name}, denying session {user_id}"
            )],
            undo: vec![format!(
                "aws iam delete-role-policy --role-name {role_name} --policy-name {name}"
            )],
            narrowed: None,
        }))
    }

    /// An instance's session: confirmed with EC2 and IAM, answered on the instance. A session
    /// only named like an instance, of no such instance, is a role session like any other.
    pub(crate) async fn plan_instance(
        &self,
        r: &Reach,
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
            return Err(VerifyError(format!(
                "{} is not an instance's session",
                offender.key()
            )));
        };
        let account = tourniquet::arn::Arn::parse(session_arn).map_or("", |a| a.account);
        let region = offense.region.clone();
        let ec2 = self
            .reach
            .get(&Scope::new(account, &region))
            .await
            .map_err(|e| VerifyError(e.to_string()))?;
        let found = instance::confirm(
            &ec2.ec2,
            &r.iam,
            instance_id,
            role_name,
            &region,
            &self.config.taint_key,
        )
        .await
        .map_err(VerifyError)?;
        let inst = match found {
            Found::Instance(inst) => inst,
            Found::Not(why) if *delivered => {
                // EC2 delivered the credentials, to an instance not found where the call was
                // made: every session of the instance carries its id as the session name.
                let planned = self.plan_session(r, offender, role_name, user_id).await?;
                let Planned::Act(mut p) = planned else {
                    return Ok(planned);
                };
                p.plan.push(format!(
                    "the instance behind it could not be confirmed ({why}): isolate it by hand"
                ));
                p.disable.unconfirmed = Some(why);
                return Ok(Planned::Act(p));
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
        let taint = &self.config.taint_key;
        Ok(Planned::Act(Plan {
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
        }))
    }
}
