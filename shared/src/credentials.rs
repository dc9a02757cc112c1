//! Cutting an instance's role credentials without touching the rest of the fleet: the
//! isolation of a tainted instance, and the answer to an offense made with its credentials.
//!
//! Credentials that EC2 delivers to an instance through its instance profile carry the
//! global condition key `ec2:SourceInstanceARN` (the instance they were delivered to). An
//! inline deny on the role conditioned on that key stops every request made with this
//! instance's credentials, including those already issued, while other instances using the
//! same role keep working. Revoking every session of the role would take the healthy fleet
//! down with the tainted instance.

//!
//! One inline policy per role lists every instance isolated on it: a policy per instance
//! would fill the role's 10,240-character inline quota after about 40 isolations, and every
//! later deny would fail. The policy is read, extended and written back under a short turn
//! in history, then read back, so two isolations on one role never drop each other's
//! instance.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::contract::Step;
use crate::errors::sdk_message;
use crate::history::History;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::{Value, json};

/// The inline policy that isolates instances, one per role.
pub const POLICY_NAME: &str = "tourniquet-isolate";
/// Each role's policy is rewritten during a turn this long at most.
const TURN: Duration = Duration::from_secs(20);
/// Tries to see our instance in the policy read back.
const TRIES: u32 = 10;
/// Tries to take the turn, 200 ms apart: isolations on one role queue for up to 6 s.
const TURN_TRIES: u32 = 30;
const PAUSE: Duration = Duration::from_millis(200);
const STEP: &str = "role-deny";

/// Deny everything to the sessions delivered to these instances.
pub fn deny_document(instance_arns: &BTreeSet<String>) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TourniquetIsolatedInstances",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:SourceInstanceARN": instance_arns}}
        }]
    })
}

/// The instances a Tourniquet policy denies, as IAM returns it; `None` when it is not a
/// policy of the shape Tourniquet writes, which is then never overwritten: that could
/// release every instance it lists.
pub fn denied(encoded: &str) -> Option<BTreeSet<String>> {
    let doc = crate::iam::policy_document(encoded)?;
    let mut arns = BTreeSet::new();
    for st in doc.get("Statement")?.as_array()? {
        match st
            .get("Condition")?
            .get("StringEquals")?
            .get("ec2:SourceInstanceARN")?
        {
            Value::String(s) => {
                arns.insert(s.clone());
            }
            Value::Array(a) => {
                for arn in a {
                    arns.insert(arn.as_str()?.to_owned());
                }
            }
            _ => return None,
        }
    }
    Some(arns)
}

/// The instance profile's name, from its ARN (`…:instance-profile/path/name`).
pub fn profile_name(profile_arn: &str) -> Option<&str> {
    let (_, path) = profile_arn.split_once(":instance-profile/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

/// The instances the role's Tourniquet policy denies now; empty when it has none.
async fn current(iam: &Client, role: &str) -> Result<BTreeSet<String>, String> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => denied(out.policy_document()).ok_or_else(|| {
            format!(
                "the inline policy {POLICY_NAME} of role {role} is not Tourniquet's shape: not \
                 overwritten"
            )
        }),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(BTreeSet::new()),
        Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
    }
}

/// Adds the instance to the role's policy, and sees it there.
async fn extend(iam: &Client, role: &str, instance_arn: &str) -> Result<bool, String> {
    let mut arns = current(iam, role).await?;
    if !arns.insert(instance_arn.to_owned()) {
        return Ok(true);
    }
    iam.put_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .policy_document(deny_document(&arns).to_string())
        .send()
        .await
        .map_err(|e| format!("PutRolePolicy {role}: {}", sdk_message(&e)))?;
    Ok(current(iam, role).await?.contains(instance_arn))
}

/// The deny on one role, in the role's turn. disable-offender answers an offense made
/// with an instance's credentials with this same deny, so both write one policy per role.
pub async fn deny_on(iam: &Client, history: &History, role: &str, instance_arn: &str) -> Step {
    // Role names repeat across accounts: the turn names the instance's account too.
    let account = crate::arn::Arn::parse(instance_arn).map_or("", |a| a.account);
    let name = format!("role-policy#{account}/{role}");
    // History down: it goes on without its turn; the read-back still checks.
    let my_turn = history
        .wait_turn(&name, instance_arn, TURN, TURN_TRIES, PAUSE)
        .await;
    let mut outcome = Err(format!(
        "{instance_arn} not seen in the policy after {TRIES} writes"
    ));
    for _ in 0..TRIES {
        match extend(iam, role, instance_arn).await {
            Ok(true) => {
                outcome = Ok(());
                break;
            }
            Ok(false) => tokio::time::sleep(PAUSE).await,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if my_turn && let Err(e) = history.end_turn(&name, instance_arn).await {
        tracing::warn!(error = %e, "could not end the role policy turn; it runs out");
    }
    match outcome {
        Ok(()) => Step::ok(
            STEP,
            format!("role {role}: inline policy {POLICY_NAME} denies sessions of {instance_arn}"),
        ),
        Err(e) => Step::critical(
            STEP,
            format!("role {role}: the instance's sessions are NOT denied: {e}"),
        ),
    }
}

/// Puts the deny on the role behind the instance profile.
pub async fn cut(
    iam: &Client,
    history: &History,
    profile_arn: &str,
    instance_arn: &str,
) -> Vec<Step> {
    let Some(profile) = profile_name(profile_arn) else {
        return vec![Step::critical(
            STEP,
            format!("cannot read an instance profile name from {profile_arn}"),
        )];
    };
    let roles = match iam
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await
    {
        Ok(out) => out
            .instance_profile()
            .map(|p| {
                p.roles()
                    .iter()
                    .map(|r| r.role_name().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
        Err(e) => {
            return vec![Step::critical(
                STEP,
                format!(
                    "cannot read instance profile {profile}: {}",
                    sdk_message(&e)
                ),
            )];
        }
    };
    if roles.is_empty() {
        return vec![Step::ok(
            STEP,
            format!("instance profile {profile} has no role"),
        )];
    }
    let mut steps = Vec::new();
    for role in roles {
        steps.push(deny_on(iam, history, &role, instance_arn).await);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_policy_lists_every_isolated_instance() {
        let a = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0".to_owned();
        let b = "arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba9876543210".to_owned();
        let arns = BTreeSet::from([a.clone(), b.clone()]);
        let doc = deny_document(&arns);
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Action"], "*");
        assert_eq!(st["Resource"], "*");
        assert_eq!(
            st["Condition"]["StringEquals"]["ec2:SourceInstanceARN"],
            json!([a, b])
        );
        assert_eq!(denied(&doc.to_string()), Some(arns));
        let single =
            json!({"Statement": [{"Condition": {"StringEquals": {"ec2:SourceInstanceARN": a}}}]});
        assert_eq!(denied(&single.to_string()), Some(BTreeSet::from([a])));
        assert_eq!(denied("not json"), None);
        let edited = json!({"Statement": [{"Effect": "Deny", "Action": "*"}]});
        assert_eq!(denied(&edited.to_string()), None, "someone else's shape");
    }

    #[test]
    fn profile_names_come_from_arns() {
        assert_eq!(
            profile_name("arn:aws:iam::1:instance-profile/bastion"),
            Some("bastion")
        );
        assert_eq!(
            profile_name("arn:aws:iam::1:instance-profile/a/b/bastion"),
            Some("bastion")
        );
        assert_eq!(profile_name("arn:aws:iam::1:role/bastion"), None);
        assert_eq!(profile_name("arn:aws:iam::1:instance-profile/"), None);
    }
}
