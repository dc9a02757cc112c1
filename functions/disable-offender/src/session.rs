//! A role session offender: an inline deny on its role scoped to the session (`aws:userid`),
//! so other users of the role keep working, or on every session of the role issued before
//! now (`aws:TokenIssueTime`); whoever assumed the role is disabled too (see `upstream`).
//!
//! A response is no wider than the offense: a role's sessions are all denied only when one
//! of its calls in the window actually weakened something and no AWS service runs the
//! workload behind it; denied attempts alone, and a Lambda function's or an ECS task's
//! session (assumed by the service, named after the function or the task), are answered on
//! the offending session.

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::json;
use tourniquet::errors::sdk_message;
use tourniquet::history::OffenseRecord;
use tourniquet::time::rfc3339;
use tourniquet::{Context, Step, Verdict, VerifyError};

use crate::Disabler;
use crate::clients::Clients;
use crate::config::RoleDisableMode;
use crate::message::user_undo;
use crate::offender::Offender;
use crate::offense::Offense;
use crate::plan::{Disable, Plan, Planned, disable};
use crate::policy;
use crate::upstream::Upstream;

impl Disabler {
    /// A role session: the principal behind it first (CloudTrail's `AssumeRole` record), which
    /// decides, with the offenses in the window, how wide the deny is.
    pub(crate) async fn plan_role(
        &self,
        r: &Clients,
        ctx: &Context<'_>,
        offender: &Offender,
        offense: &Offense,
        offenses: &[OffenseRecord],
    ) -> Result<Planned, VerifyError> {
        let Offender::RoleSession {
            role_name, user_id, ..
        } = offender
        else {
            return Err(VerifyError::Mismatch(format!(
                "{} is not a role session",
                offender.key()
            )));
        };
        let found = self.upstream(r, &offense.principal).await;
        let weakened = offenses.iter().any(|o| o.succeeded);
        let service = matches!(found, Upstream::Service(_));
        let role_wide =
            self.config.role_mode == RoleDisableMode::SessionsBeforeNow && weakened && !service;
        let why_narrow = narrowing(self.config.role_mode, service, weakened);
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
        with_upstream(&mut p, role_name, found);
        Ok(Planned::Act(p))
    }

    /// Every session of the role issued before now.
    async fn plan_revoke(
        &self,
        r: &Clients,
        ctx: &Context<'_>,
        offender: &Offender,
        role_name: &str,
    ) -> Result<Planned, VerifyError> {
        let Some(cutoff) = self
            .live_revocation(r, role_name)
            .await
            .map_err(VerifyError::read)?
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
    pub(crate) async fn plan_session(
        &self,
        r: &Clients,
        offender: &Offender,
        role_name: &str,
        user_id: &str,
    ) -> Result<Planned, VerifyError> {
        match self
            .live_role(r, role_name, user_id)
            .await
            .map_err(VerifyError::read)?
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

    /// Whether the session is denied already (`Some(true)`); `None` when the role is gone.
    async fn live_role(
        &self,
        r: &Clients,
        role: &str,
        user_id: &str,
    ) -> Result<Option<bool>, String> {
        match r
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy::session_policy_name(user_id))
            .send()
            .await
        {
            Ok(_) => Ok(Some(true)),
            Err(e) if e.code() == Some("NoSuchEntity") => {
                match r.iam.get_role().role_name(role).send().await {
                    Ok(_) => Ok(Some(false)),
                    Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
                    Err(e) => Err(format!("GetRole {role}: {}", sdk_message(&e))),
                }
            }
            Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
        }
    }

    /// The cutoff of the role's revoke policy, if it has one; `None` when the role is gone.
    async fn live_revocation(
        &self,
        r: &Clients,
        role: &str,
    ) -> Result<Option<Option<String>>, String> {
        match r
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy::REVOKE_POLICY)
            .send()
            .await
        {
            Ok(out) => Ok(Some(policy::cutoff_of(out.policy_document()))),
            Err(e) if e.code() == Some("NoSuchEntity") => {
                match r.iam.get_role().role_name(role).send().await {
                    Ok(_) => Ok(Some(None)),
                    Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
                    Err(e) => Err(format!("GetRole {role}: {}", sdk_message(&e))),
                }
            }
            Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
        }
    }

    /// Every session of the role issued before `cutoff`, whatever its name.
    async fn revoke_sessions(&self, r: &Clients, role: &str, cutoff: &str) -> Vec<Step> {
        let result = r
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy::REVOKE_POLICY)
            .policy_document(policy::deny_sessions_before(cutoff).to_string())
            .send()
            .await;
        vec![match result {
            Ok(_) => Step::ok(
                "revoke-sessions",
                format!(
                    "inline policy {} on role {role} denies every session issued before {cutoff}",
                    policy::REVOKE_POLICY
                ),
            ),
            Err(e) => Step::critical("revoke-sessions", sdk_message(&e)),
        }]
    }

    /// The offending session alone (`aws:userid`).
    pub(crate) async fn disable_session(
        &self,
        r: &Clients,
        role: &str,
        user_id: &str,
    ) -> Vec<Step> {
        let name = policy::session_policy_name(user_id);
        let result = r
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(&name)
            .policy_document(policy::deny_session(user_id).to_string())
            .send()
            .await;
        vec![match result {
            Ok(_) => Step::ok(
                "session-deny",
                format!("inline policy {name} on role {role} denies session {user_id}"),
            ),
            Err(e) => Step::critical("session-deny", sdk_message(&e)),
        }]
    }

    /// The deny the plan chose (every session before the cutoff, or this one), and whoever
    /// assumed the role, at once.
    pub(crate) async fn disable_role_session(
        &self,
        r: &Clients,
        disable: &Disable,
        role_name: &str,
        user_id: &str,
    ) -> Vec<Step> {
        if let Some(cutoff) = disable.revoke_before.as_deref() {
            let (mut steps, upstream) = tokio::join!(
                self.revoke_sessions(r, role_name, cutoff),
                self.disable_upstream(r, role_name, disable.upstream.as_ref())
            );
            steps.extend(upstream);
            return steps;
        }
        let (mut steps, upstream) = tokio::join!(
            self.disable_session(r, role_name, user_id),
            self.disable_upstream(r, role_name, disable.upstream.as_ref())
        );
        steps.extend(upstream);
        steps
    }
}

/// Why the deny is narrower than the mode asks, if it is.
fn narrowing(mode: RoleDisableMode, service: bool, weakened: bool) -> Option<&'static str> {
    if mode == RoleDisableMode::ThisSession {
        None
    } else if service {
        Some("the role is assumed by an AWS service for one workload: only its session is denied")
    } else if !weakened {
        Some("every offense in the window was a denied attempt: only the session is denied")
    } else {
        None
    }
}

/// The plan and the undo name whoever assumed the role, and the state before records it.
fn with_upstream(p: &mut Plan, role_name: &str, found: Upstream) {
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
}
