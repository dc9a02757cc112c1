//! An offense made with an instance's credentials is that instance's. EC2 delivers an instance
//! profile's credentials to one instance (CloudTrail marks the session `ec2RoleDelivery`, and
//! names it after the instance); whoever holds them is on that instance, or stole them from
//! it, and takes fresh ones from its metadata service at will. So the answer is on the
//! instance: its credentials are denied by `ec2:SourceInstanceARN` (the same policy an
//! isolation writes) and the instance is tainted, so that isolate-instance isolates it under
//! its own safeguard and incident. Every other instance with the role keeps working: a
//! role-wide revoke would take the fleet down while the attacker simply refreshes.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{InstanceStateName, Tag};
use serde::{Deserialize, Serialize};
use tourniquet::Step;
use tourniquet::credentials::{self, POLICY_NAME};
use tourniquet::errors::sdk_message;
use tourniquet::history::History;

/// EC2 keeps tag values to 256 characters.
const MAX_TAG_VALUE: usize = 256;

/// The instance an offending session belongs to, as EC2 and IAM confirm it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub arn: String,
    pub region: String,
    /// It carries the taint key already (isolation is under way, or was asked for).
    pub tainted: bool,
    /// The role's isolation policy already denies its credentials.
    pub denied: bool,
}

/// What EC2 and IAM say of the instance a session names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Instance(Instance),
    /// Not an instance of this account and region with that role: why, for a person.
    Not(String),
}

/// The live instance `id` in `region`, with `role` behind its instance profile.
pub async fn confirm(
    ec2: &aws_sdk_ec2::Client,
    iam: &aws_sdk_iam::Client,
    id: &str,
    role: &str,
    region: &str,
    taint_key: &str,
) -> Result<Found, String> {
    let out = match ec2.describe_instances().instance_ids(id).send().await {
        Ok(out) => out,
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidInstanceID")) => {
            return Ok(Found::Not(format!("no instance {id} in {region}")));
        }
        Err(e) => return Err(format!("DescribeInstances {id}: {}", sdk_message(&e))),
    };
    let Some((owner, inst)) = out.reservations().iter().find_map(|r| {
        r.instances()
            .iter()
            .find(|i| i.instance_id() == Some(id))
            .map(|i| (r.owner_id().unwrap_or_default(), i))
    }) else {
        return Ok(Found::Not(format!("no instance {id} in {region}")));
    };
    if inst.state().and_then(|s| s.name()) == Some(&InstanceStateName::Terminated) {
        return Ok(Found::Not(format!("instance {id} is terminated")));
    }
    let Some(profile) = inst
        .iam_instance_profile()
        .and_then(|p| p.arn())
        .and_then(credentials::profile_name)
    else {
        return Ok(Found::Not(format!("instance {id} has no instance profile")));
    };
    if !holds_role(iam, profile, role).await? {
        return Ok(Found::Not(format!(
            "instance {id}'s profile {profile} does not hold role {role}"
        )));
    }
    let partition = tourniquet::arn::Arn::parse(
        inst.iam_instance_profile()
            .and_then(|p| p.arn())
            .unwrap_or_default(),
    )
    .map_or("aws", |a| a.partition);
    let arn = format!("arn:{partition}:ec2:{region}:{owner}:instance/{id}");
    let tainted = inst.tags().iter().any(|t| t.key() == Some(taint_key));
    let denied = denied(iam, role, &arn).await?;
    Ok(Found::Instance(Instance {
        id: id.to_owned(),
        arn,
        region: region.to_owned(),
        tainted,
        denied,
    }))
}

/// Whether the instance profile holds the role.
async fn holds_role(iam: &aws_sdk_iam::Client, profile: &str, role: &str) -> Result<bool, String> {
    let roles = iam
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await
        .map_err(|e| format!("GetInstanceProfile {profile}: {}", sdk_message(&e)))?;
    Ok(roles
        .instance_profile()
        .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == role)))
}

/// Whether the role's isolation policy lists the instance.
async fn denied(iam: &aws_sdk_iam::Client, role: &str, arn: &str) -> Result<bool, String> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Ok(credentials::denied(out.policy_document()).is_some_and(|d| d.contains(arn))),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
    }
}

/// Denies the instance's credentials on `role` and taints the instance, at once.
pub async fn answer(
    ec2: &aws_sdk_ec2::Client,
    iam: &aws_sdk_iam::Client,
    history: &History,
    role: &str,
    instance: &Instance,
    taint_key: &str,
    reason: &str,
) -> Vec<Step> {
    let deny = async {
        if instance.denied {
            Step::ok(
                "role-deny",
                format!(
                    "role {role} already denies the sessions of {}",
                    instance.arn
                ),
            )
        } else {
            credentials::deny_on(iam, history, role, &instance.arn).await
        }
    };
    let (deny, taint) = tokio::join!(deny, taint(ec2, instance, taint_key, reason));
    vec![deny, taint]
}

async fn taint(
    ec2: &aws_sdk_ec2::Client,
    instance: &Instance,
    taint_key: &str,
    reason: &str,
) -> Step {
    if instance.tainted {
        return Step::ok(
            "taint",
            format!("{} already carries {taint_key}", instance.id),
        );
    }
    let value: String = format!("disable-offender: {reason}")
        .chars()
        .take(MAX_TAG_VALUE)
        .collect();
    let tag = Tag::builder().key(taint_key).value(value).build();
    match ec2
        .create_tags()
        .resources(&instance.id)
        .tags(tag)
        .send()
        .await
    {
        Ok(_) => Step::ok(
            "taint",
            format!(
                "tagged {} {taint_key}: isolate-instance isolates it, under its own safeguard \
                 and incident",
                instance.id
            ),
        ),
        Err(e) => Step::critical(
            "taint",
            format!(
                "{} is NOT tainted, isolate it by hand: {}",
                instance.id,
                sdk_message(&e)
            ),
        ),
    }
}
