//! Cutting an instance's role credentials without touching the rest of the fleet.
//!
//! Credentials that EC2 delivers to an instance through its instance profile carry the
//! global condition key `ec2:SourceInstanceARN` (the instance they were delivered to). An
//! inline deny on the role conditioned on that key stops every request made with this
//! instance's credentials, including those already issued, while other instances using the
//! same role keep working. Revoking every session of the role would take the healthy fleet
//! down with the tainted instance.

use aws_sdk_iam::Client;
use serde_json::{Value, json};
use tourniquet::Step;
use tourniquet::history::sdk_message;

/// The name of the inline policy that isolates `instance_id`.
pub fn policy_name(instance_id: &str) -> String {
    format!("tourniquet-isolate-{instance_id}")
}

/// Deny everything to sessions delivered to this one instance.
pub fn deny_document(instance_arn: &str, instance_id: &str) -> Value {
    let sid: String = format!("TourniquetIsolate{instance_id}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:SourceInstanceARN": instance_arn}}
        }]
    })
}

/// The instance profile's name, from its ARN (`…:instance-profile/path/name`).
pub fn profile_name(profile_arn: &str) -> Option<&str> {
    let (_, path) = profile_arn.split_once(":instance-profile/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

/// Puts the deny on the role behind the instance profile.
pub async fn cut(
    iam: &Client,
    profile_arn: &str,
    instance_arn: &str,
    instance_id: &str,
) -> Vec<Step> {
    const STEP: &str = "role-deny";
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
    let document = deny_document(instance_arn, instance_id).to_string();
    let name = policy_name(instance_id);
    let mut steps = Vec::new();
    for role in roles {
        let put = iam
            .put_role_policy()
            .role_name(&role)
            .policy_name(&name)
            .policy_document(&document)
            .send()
            .await;
        steps.push(match put {
            Ok(_) => Step::ok(
                STEP,
                format!("role {role}: inline policy {name} denies sessions of {instance_arn}"),
            ),
            Err(e) => Step::critical(
                STEP,
                format!("role {role}: cannot put deny policy: {}", sdk_message(&e)),
            ),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_is_scoped_to_the_instance() {
        let arn = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";
        let doc = deny_document(arn, "i-0123456789abcdef0");
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Action"], "*");
        assert_eq!(st["Resource"], "*");
        assert_eq!(
            st["Condition"]["StringEquals"]["ec2:SourceInstanceARN"],
            arn
        );
        assert_eq!(st["Sid"], "TourniquetIsolatei0123456789abcdef0");
        assert_eq!(policy_name("i-1"), "tourniquet-isolate-i-1");
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
