//! An IAM user offender: its keys set inactive and an inline deny-all attached (which also
//! stops the console and sessions already issued), once IAM confirms the record.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use futures_util::future::join_all;
use serde_json::{Value, json};
use tourniquet::errors::sdk_message;
use tourniquet::{Principal, Severity, Step, Verdict, VerifyError};

use crate::Disabler;
use crate::clients::Clients;
use crate::message::user_undo;
use crate::offender::Offender;
use crate::offense::Offense;
use crate::plan::{Disable, Plan, Planned, disable};
use crate::policy;

/// An IAM user as IAM has it now.
pub(crate) struct LiveUser {
    pub(crate) active_keys: Vec<String>,
    /// Every access key, active or not.
    keys: Vec<String>,
    /// Tourniquet's deny-all policy is attached.
    denied: bool,
}

impl Disabler {
    /// An IAM user, once IAM confirms the record: the user exists, and a long-term access key
    /// the record names is one of the user's.
    pub(crate) async fn plan_user(
        &self,
        r: &Clients,
        offender: &Offender,
        offense: &Offense,
        name: &str,
    ) -> Result<Planned, VerifyError> {
        let Some(live) = self.live_user(r, name).await.map_err(VerifyError::read)? else {
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

    /// The user's live state; `None` when it does not exist.
    pub(crate) async fn live_user(
        &self,
        r: &Clients,
        name: &str,
    ) -> Result<Option<LiveUser>, String> {
        let (keys, policy) = tokio::join!(
            r.iam.list_access_keys().user_name(name).send(),
            r.iam
                .get_user_policy()
                .user_name(name)
                .policy_name(policy::USER_POLICY)
                .send()
        );
        let (active, all) = match keys {
            Ok(k) => {
                let ids = |active_only: bool| {
                    k.access_key_metadata()
                        .iter()
                        .filter(|k| !active_only || k.status() == Some(&StatusType::Active))
                        .filter_map(|k| k.access_key_id().map(str::to_owned))
                        .collect::<Vec<_>>()
                };
                (ids(true), ids(false))
            }
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(format!("ListAccessKeys {name}: {}", sdk_message(&e))),
        };
        let denied = match policy {
            Ok(_) => true,
            Err(e) if e.code() == Some("NoSuchEntity") => false,
            Err(e) => return Err(format!("GetUserPolicy {name}: {}", sdk_message(&e))),
        };
        Ok(Some(LiveUser {
            active_keys: active,
            keys: all,
            denied,
        }))
    }

    /// Every active key of the user set inactive, and the deny-all attached, at once.
    pub(crate) async fn disable_user(&self, r: &Clients, name: &str, keys: &[String]) -> Vec<Step> {
        let deactivate = join_all(keys.iter().map(|key| async move {
            let step = format!("deactivate key {key}");
            match r
                .iam
                .update_access_key()
                .user_name(name)
                .access_key_id(key)
                .status(StatusType::Inactive)
                .send()
                .await
            {
                Ok(_) => Step::ok(step, "Inactive"),
                Err(e) => Step::critical(step, sdk_message(&e)),
            }
        }));
        let deny = async {
            match r
                .iam
                .put_user_policy()
                .user_name(name)
                .policy_name(policy::USER_POLICY)
                .policy_document(policy::deny_all().to_string())
                .send()
                .await
            {
                Ok(_) => Step::ok(
                    "deny-all",
                    format!("inline policy {} on user {name}", policy::USER_POLICY),
                ),
                Err(e) => Step::critical("deny-all", sdk_message(&e)),
            }
        };
        let (mut steps, deny) = tokio::join!(deactivate, deny);
        steps.push(deny);
        steps
    }
}

/// The undo of a resumed user names the keys that the invocation that died recorded as
/// active (it may have deactivated them already), and the state before is that record.
pub(crate) fn with_recorded_keys(verdict: &mut Verdict<Disable>, before: &Value) {
    if let Verdict::Act(subject) = verdict
        && let Offender::User { name, .. } = &subject.subject.offender
    {
        let recorded: Vec<String> = before
            .get("active_keys")
            .and_then(|k| serde_json::from_value(k.clone()).ok())
            .unwrap_or_default();
        subject.undo = user_undo(name, &recorded);
        subject.before = before.clone();
    }
}
