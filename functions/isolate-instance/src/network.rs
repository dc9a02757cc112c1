//! Cutting the network, on every interface, without leaving tracked connections alive.
//!
//! Security group changes do not interrupt connections that are already tracked. Traffic
//! allowed by an "all traffic, any address, both directions" rule set is not tracked, so the
//! interface first moves to an allow-all group (every existing flow becomes untracked), then
//! at once to the quarantine group, which has no rule at all: untracked flows stop with it.
//! Between the two steps the instance is wide open, so the second is retried and its failure
//! wakes a human with the interface named.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification};
use tourniquet::Step;
use tourniquet::errors::sdk_message;

use crate::instance::Interface;

/// Attempts at the quarantine step before a human is woken.
const QUARANTINE_ATTEMPTS: u32 = 3;

/// The two groups of a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    /// Missing only when it could not be created: the interface then goes straight to
    /// quarantine (tracked flows may survive, which the step reports).
    pub allow_all: Result<String, String>,
    pub quarantine: String,
}

fn all_traffic() -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    IpPermission::builder().ip_protocol("-1")
}

/// The tag on the groups Tourniquet creates: for people, never trusted.
pub const PURPOSE_TAG: &str = "tourniquet:purpose";
/// The incident that made a group (or `prepare`, the sweep), tagged in the same call that
/// creates it: a retry of an incident that died before recording its groups finds them by
/// it and adopts them (sealed), instead of making a second pair.
pub const INCIDENT_TAG: &str = "tourniquet:incident";
/// The purposes, as tagged.
pub const QUARANTINE: &str = "quarantine";
pub const ALLOW_ALL: &str = "quarantine-allow-all";

fn tagged(purpose: &str, incident: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .tags(Tag::builder().key(PURPOSE_TAG).value(purpose).build())
        .tags(Tag::builder().key(INCIDENT_TAG).value(incident).build())
        .build()
}

/// Creates a group under `name`, or under `other()` when a group of that name exists already
/// in the VPC: an existing group is never adopted, whoever made it. Returns the new group's
/// id.
async fn create(
    ec2: &Client,
    name: &str,
    vpc: &str,
    (purpose, incident): (&str, &str),
    other: impl Fn() -> String,
) -> Result<String, String> {
    let attempt = |name: String| async move {
        let out = ec2
            .create_security_group()
            .group_name(&name)
            .description(format!("Tourniquet {purpose}: do not edit"))
            .vpc_id(vpc)
            .tag_specifications(tagged(purpose, incident))
            .send()
            .await;
        match out {
            Ok(out) => out
                .group_id()
                .map(str::to_owned)
                .ok_or_else(|| format!("CreateSecurityGroup {name}: no group id in the answer"))
                .map(Some),
            Err(e) if e.code() == Some("InvalidGroup.Duplicate") => Ok(None),
            Err(e) => Err(format!(
                "CreateSecurityGroup {name} in {vpc}: {}",
                sdk_message(&e)
            )),
        }
    };
    match attempt(name.to_owned()).await? {
        Some(id) => Ok(id),
        None => attempt(other())
            .await?
            .ok_or_else(|| format!("no free name for a {purpose} group in {vpc}")),
    }
}

/// A new quarantine group: no inbound rule, no outbound rule.
pub async fn quarantine_group(
    ec2: &Client,
    name: &str,
    (vpc, incident): (&str, &str),
    other: impl Fn() -> String,
) -> Result<String, String> {
    let id = create(ec2, name, vpc, (QUARANTINE, incident), other).await?;
    // A new group allows all outbound traffic (IPv4, and IPv6 in a dual-stack VPC):
    // revoke exactly what it has.
    seal(ec2, &id, false).await?;
    Ok(id)
}

/// Every rule of a quarantine group revoked; `verify`: read back rule-less (a group adopted
/// from a dead invocation may have had rules added since it was made).
pub async fn seal(ec2: &Client, id: &str, verify: bool) -> Result<(), String> {
    let (ingress, egress) = rules_of(ec2, id).await?;
    if !ingress.is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(|e| format!("RevokeSecurityGroupIngress {id}: {}", sdk_message(&e)))?;
    }
    if !egress.is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(egress))
            .send()
            .await
            .map_err(|e| format!("RevokeSecurityGroupEgress {id}: {}", sdk_message(&e)))?;
    }
    if verify && rules_of(ec2, id).await? != (Vec::new(), Vec::new()) {
        return Err(format!(
            "quarantine group {id} still has rules after they were revoked"
        ));
    }
    Ok(())
}

/// A group's inbound and outbound rules, as they are now.
async fn rules_of(
    ec2: &Client,
    id: &str,
) -> Result<(Vec<IpPermission>, Vec<IpPermission>), String> {
    let out = ec2
        .describe_security_groups()
        .group_ids(id)
        .send()
        .await
        .map_err(|e| format!("DescribeSecurityGroups {id}: {}", sdk_message(&e)))?;
    let groups = out.security_groups();
    let ingress = groups
        .iter()
        .flat_map(|g| g.ip_permissions().iter().cloned());
    let egress = groups
        .iter()
        .flat_map(|g| g.ip_permissions_egress().iter().cloned());
    Ok((ingress.collect(), egress.collect()))
}

/// A new allow-all group: all traffic in and out, IPv4 and IPv6, so that nothing is tracked.
pub async fn allow_all_group(
    ec2: &Client,
    name: &str,
    (vpc, incident): (&str, &str),
    other: impl Fn() -> String,
) -> Result<String, String> {
    let id = create(ec2, name, vpc, (ALLOW_ALL, incident), other).await?;
    open_all(ec2, &id).await?;
    Ok(id)
}

/// An allow-all group's rules, authorized (those it has already stay).
pub async fn open_all(ec2: &Client, id: &str) -> Result<(), String> {
    let everything = || {
        all_traffic()
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
            .build()
    };
    let ipv6_out = all_traffic()
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build();
    let (ingress, egress) = tokio::join!(
        ec2.authorize_security_group_ingress()
            .group_id(id)
            .ip_permissions(everything())
            .send(),
        ec2.authorize_security_group_egress()
            .group_id(id)
            .ip_permissions(ipv6_out)
            .send()
    );
    if let Err(e) = ingress
        && e.code() != Some("InvalidPermission.Duplicate")
    {
        return Err(format!(
            "AuthorizeSecurityGroupIngress {id}: {}",
            sdk_message(&e)
        ));
    }
    if let Err(e) = egress
        && e.code() != Some("InvalidPermission.Duplicate")
    {
        return Err(format!(
            "AuthorizeSecurityGroupEgress {id}: {}",
            sdk_message(&e)
        ));
    }
    Ok(())
}

async fn set_groups(ec2: &Client, eni: &str, group: &str) -> Result<(), String> {
    ec2.modify_network_interface_attribute()
        .network_interface_id(eni)
        .groups(group)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_message(&e))
}

/// Whether an interface is in exactly this one group now.
fn only_in(eni: &Interface, group: &str) -> bool {
    matches!(eni.groups.as_slice(), [g] if g == group)
}

/// First step on one interface: the allow-all group. An interface already in quarantine
/// (an incident resumed after its invocation died) is never opened again.
pub async fn open(ec2: &Client, eni: &Interface, groups: &Groups) -> Step {
    let name = format!("allow-all {}", eni.id);
    if only_in(eni, &groups.quarantine) {
        return Step::ok(name, format!("{} already quarantined: not opened", eni.id));
    }
    if groups.allow_all.as_ref().is_ok_and(|g| only_in(eni, g)) {
        return Step::ok(name, format!("{} already in the allow-all group", eni.id));
    }
    let eni = eni.id.as_str();
    match &groups.allow_all {
        Ok(group) => match set_groups(ec2, eni, group).await {
            Ok(()) => Step::ok(name, format!("{eni} in {group}: existing flows untracked")),
            Err(e) => Step::failed(
                name,
                format!("{e}; quarantining directly, tracked flows may survive"),
            ),
        },
        Err(e) => Step::failed(
            name,
            format!("no allow-all group ({e}); quarantining directly, tracked flows may survive"),
        ),
    }
}

/// Second step on one interface: the quarantine group, retried; a failure is critical.
pub async fn close(ec2: &Client, eni: &Interface, groups: &Groups) -> Step {
    let name = format!("quarantine {}", eni.id);
    if only_in(eni, &groups.quarantine) {
        return Step::ok(
            name,
            format!("{} in {}: no traffic in or out", eni.id, groups.quarantine),
        );
    }
    let eni = eni.id.as_str();
    let mut last = String::new();
    for attempt in 1..=QUARANTINE_ATTEMPTS {
        match set_groups(ec2, eni, &groups.quarantine).await {
            Ok(()) => {
                return Step::ok(
                    name,
                    format!("{eni} in {}: no traffic in or out", groups.quarantine),
                );
            }
            Err(e) => last = e,
        }
        if attempt < QUARANTINE_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
    Step::critical(
        name,
        format!(
            "interface {eni} is NOT quarantined after {QUARANTINE_ATTEMPTS} attempts and may be \
             wide open: {last}"
        ),
    )
}

/// Shortens the interface's connection-tracking idle timeouts to their minimums (TCP 60 s,
/// UDP streams 60 s, other UDP 30 s), so that flows AWS tracks whatever the rules expire
/// soon once idle. Instance types without configurable timeouts refuse it: reported, not
/// critical, since the quarantine group and the network ACL entries still hold.
pub async fn shorten_tracking(ec2: &Client, eni: &Interface) -> Step {
    let name = format!("conntrack {}", eni.id);
    let spec = aws_sdk_ec2::types::ConnectionTrackingSpecificationRequest::builder()
        .tcp_established_timeout(60)
        .udp_stream_timeout(60)
        .udp_timeout(30)
        .build();
    match ec2
        .modify_network_interface_attribute()
        .network_interface_id(&eni.id)
        .connection_tracking_specification(spec)
        .send()
        .await
    {
        Ok(_) => Step::ok(name, "idle timeouts TCP 60 s, UDP 60/30 s"),
        Err(e) => Step::failed(
            name,
            format!(
                "idle timeouts not shortened (the instance type may not allow it): {}",
                sdk_message(&e)
            ),
        ),
    }
}
