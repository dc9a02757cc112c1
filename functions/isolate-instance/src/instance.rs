//! The live instance, read in one round of concurrent calls: everything the decision needs
//! and everything history must keep to undo the isolation.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{AttributeBooleanValue, InstanceAttributeName};
use serde::{Deserialize, Serialize};
use tourniquet::history::sdk_message;

use crate::Clients;
use crate::groups::LiveGroup;

/// A network interface and the security groups it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub id: String,
    pub groups: Vec<String>,
    /// Private IPv4 addresses: the targets of IP-type target groups.
    pub private_ips: Vec<String>,
    /// Its subnet, whose network ACL gets deny entries for its addresses.
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub ipv6: Vec<String>,
}

/// An attached EBS volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub device: String,
    pub delete_on_termination: bool,
}

/// The state of an instance before isolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub arn: String,
    pub state: String,
    pub vpc_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub interfaces: Vec<Interface>,
    pub volumes: Vec<Volume>,
    pub instance_profile_arn: Option<String>,
    pub auto_scaling_group: Option<String>,
    pub termination_protection: Option<bool>,
    pub shutdown_behavior: Option<String>,
}

impl Instance {
    pub fn name(&self) -> &str {
        self.tags.get("Name").map(String::as_str).unwrap_or("")
    }

    pub fn describe(&self) -> String {
        let name = match self.name() {
            "" => String::new(),
            n => format!(" \"{n}\""),
        };
        format!(
            "instance {}{name} ({}, {}, {} network interface(s), {} volume(s){})",
            self.id,
            self.state,
            self.vpc_id.as_deref().unwrap_or("no VPC"),
            self.interfaces.len(),
            self.volumes.len(),
            self.auto_scaling_group
                .as_deref()
                .map(|g| format!(", Auto Scaling group {g}"))
                .unwrap_or_default()
        )
    }
}

/// What one round of reads found.
pub enum Found {
    Instance(Box<Instance>),
    Missing,
}

/// The instance's ARN, in the partition of the function's own identity.
fn instance_arn(partition: &str, region: &str, owner: &str, id: &str) -> String {
    format!("arn:{partition}:ec2:{region}:{owner}:instance/{id}")
}

/// Reads the instance, its Auto Scaling group, its attributes and the groups whose name
/// starts with `group_prefix` (Tourniquet's, and any impostor's), all at once.
pub async fn read(
    clients: &Clients,
    partition: &str,
    id: &str,
    group_prefix: &str,
) -> Result<(Found, Vec<LiveGroup>), String> {
    let ec2 = &clients.ec2;
    let attribute = |name: InstanceAttributeName| {
        ec2.describe_instance_attribute()
            .instance_id(id)
            .attribute(name)
            .send()
    };
    let (described, asg, groups, protection, shutdown) = tokio::join!(
        ec2.describe_instances().instance_ids(id).send(),
        clients
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(id)
            .send(),
        crate::groups::live(ec2, group_prefix),
        attribute(InstanceAttributeName::DisableApiTermination),
        attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior),
    );
    let described = match described {
        Ok(d) => d,
        Err(e)
            if e.as_service_error()
                .and_then(|se| aws_sdk_ec2::error::ProvideErrorMetadata::code(se))
                .is_some_and(|c| c == "InvalidInstanceID.NotFound") =>
        {
            return Ok((Found::Missing, Vec::new()));
        }
        Err(e) => return Err(format!("DescribeInstances {id}: {}", sdk_message(&e))),
    };
    let Some((owner, inst)) = described.reservations().iter().find_map(|r| {
        r.instances()
            .iter()
            .find(|i| i.instance_id() == Some(id))
            .map(|i| (r.owner_id().unwrap_or_default(), i))
    }) else {
        return Ok((Found::Missing, Vec::new()));
    };
    let region = clients
        .ec2
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let interfaces = inst
        .network_interfaces()
        .iter()
        .filter_map(|eni| {
            Some(Interface {
                id: eni.network_interface_id()?.to_owned(),
                groups: eni
                    .groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_owned))
                    .collect(),
                private_ips: eni
                    .private_ip_addresses()
                    .iter()
                    .filter_map(|a| a.private_ip_address().map(str::to_owned))
                    .collect(),
                subnet_id: eni.subnet_id().map(str::to_owned),
                ipv6: eni
                    .ipv6_addresses()
                    .iter()
                    .filter_map(|a| a.ipv6_address().map(str::to_owned))
                    .collect(),
            })
        })
        .collect();
    let volumes = inst
        .block_device_mappings()
        .iter()
        .filter_map(|m| {
            let ebs = m.ebs()?;
            Some(Volume {
                id: ebs.volume_id()?.to_owned(),
                device: m.device_name()?.to_owned(),
                delete_on_termination: ebs.delete_on_termination().unwrap_or(false),
            })
        })
        .collect();
    // Not fatal for the instance: without them the groups are treated as absent and made
    // anew, never guessed.
    let groups = groups.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "quarantine group lookup failed");
        Vec::new()
    });
    let auto_scaling_group = match asg {
        Ok(out) => out
            .auto_scaling_instances()
            .iter()
            .find(|a| a.instance_id() == Some(id))
            .and_then(|a| a.auto_scaling_group_name().map(str::to_owned)),
        Err(e) => {
            return Err(format!(
                "DescribeAutoScalingInstances {id}: {}",
                sdk_message(&e)
            ));
        }
    };
    let instance = Instance {
        id: id.to_owned(),
        arn: instance_arn(partition, &region, owner, id),
        state: inst
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|| "unknown".to_owned()),
        vpc_id: inst.vpc_id().map(str::to_owned),
        tags: inst
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
        interfaces,
        volumes,
        instance_profile_arn: inst
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_owned),
        auto_scaling_group,
        termination_protection: protection.ok().and_then(|a| {
            a.disable_api_termination()
                .and_then(AttributeBooleanValue::value)
        }),
        shutdown_behavior: shutdown.ok().and_then(|a| {
            a.instance_initiated_shutdown_behavior()
                .and_then(|v| v.value())
                .map(str::to_owned)
        }),
    };
    Ok((Found::Instance(Box::new(instance)), groups))
}

/// Events naming more instances than this are screened in one read before their cases run.
pub const SCREEN_ABOVE: usize = 16;
/// Ids per `DescribeInstances` filter: the API takes 200 values per filter.
const IDS_PER_READ: usize = 200;

/// Which of `ids` are instances that exist and are not terminated: one request per 200 ids,
/// all at once. A filter, not `InstanceIds`, so that one missing id does not fail the rest.
pub async fn existing(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<BTreeSet<String>, String> {
    let reads = ids.chunks(IDS_PER_READ).map(|chunk| async move {
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let out = ec2
                .describe_instances()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("instance-id")
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                )
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("DescribeInstances: {}", sdk_message(&e)))?;
            found.extend(
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter(|i| {
                        !matches!(
                            i.state().and_then(|s| s.name()).map(|n| n.as_str()),
                            Some("terminated")
                        )
                    })
                    .filter_map(|i| i.instance_id().map(str::to_owned)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok::<_, String>(found),
            }
        }
    });
    let mut all = BTreeSet::new();
    for found in futures_util::future::join_all(reads).await {
        all.extend(found?);
    }
    Ok(all)
}
