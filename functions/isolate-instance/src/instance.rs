//! The live instances of an event, read in one round of concurrent calls whatever their
//! number: everything the decision needs and everything history must keep to undo the
//! isolation.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tourniquet::errors::sdk_message;

use crate::clients::Clients;

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

/// The instance's ARN, in the partition of the function's own identity.
fn instance_arn(partition: &str, region: &str, owner: &str, id: &str) -> String {
    format!("arn:{partition}:ec2:{region}:{owner}:instance/{id}")
}

/// Ids per `DescribeInstances` filter: the API takes 200 values per filter.
const IDS_PER_READ: usize = 200;
/// Ids per `DescribeAutoScalingInstances`: the API takes 50.
const IDS_PER_GROUP_READ: usize = 50;

/// Reads every instance of `ids` and the Auto Scaling group of each: one
/// `DescribeInstances` per 200 ids and one `DescribeAutoScalingInstances` per 50. Up to 50
/// ids, both at once (one round); more, the groups of the instances found only, after them,
/// so that an event naming 1000 ids, most of them nothing, costs a handful of requests. Ids
/// that name no instance are simply absent, so one missing id never fails the rest.
pub async fn read_all(
    clients: &Clients,
    partition: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Instance>, String> {
    let (described, mut groups) = if ids.len() <= IDS_PER_GROUP_READ {
        let (described, groups) = tokio::join!(
            describe(&clients.ec2, ids),
            auto_scaling_groups(&clients.autoscaling, ids)
        );
        (described?, groups?)
    } else {
        let described = describe(&clients.ec2, ids).await?;
        let found: Vec<String> = described
            .iter()
            .filter_map(|(_, i)| i.instance_id().map(str::to_owned))
            .collect();
        let groups = auto_scaling_groups(&clients.autoscaling, &found).await?;
        (described, groups)
    };
    let region = clients
        .ec2
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    Ok(described
        .iter()
        .filter_map(|(owner, inst)| {
            let id = inst.instance_id()?;
            let arn = instance_arn(partition, &region, owner, id);
            let group = groups.remove(id);
            Some((id.to_owned(), from_sdk(inst, arn, group)))
        })
        .collect())
}

/// The instances among `ids`, each with the account that owns it.
async fn describe(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<Vec<(String, aws_sdk_ec2::types::Instance)>, String> {
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
            for r in out.reservations() {
                let owner = r.owner_id().unwrap_or_default();
                found.extend(r.instances().iter().map(|i| (owner.to_owned(), i.clone())));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok::<_, String>(found),
            }
        }
    });
    let mut all = Vec::new();
    for found in join_all(reads).await {
        all.extend(found?);
    }
    Ok(all)
}

/// The Auto Scaling group of each of `ids` that is in one.
async fn auto_scaling_groups(
    autoscaling: &aws_sdk_autoscaling::Client,
    ids: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let reads = ids.chunks(IDS_PER_GROUP_READ).map(|chunk| async move {
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let out = autoscaling
                .describe_auto_scaling_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("DescribeAutoScalingInstances: {}", sdk_message(&e)))?;
            found.extend(out.auto_scaling_instances().iter().filter_map(|a| {
                Some((
                    a.instance_id()?.to_owned(),
                    a.auto_scaling_group_name()?.to_owned(),
                ))
            }));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok::<_, String>(found),
            }
        }
    });
    let mut all = BTreeMap::new();
    for found in join_all(reads).await {
        all.extend(found?);
    }
    Ok(all)
}

/// What history keeps of the instance, from the SDK's description.
fn from_sdk(
    inst: &aws_sdk_ec2::types::Instance,
    arn: String,
    auto_scaling_group: Option<String>,
) -> Instance {
    let interfaces = inst
        .network_interfaces()
        .iter()
        .filter_map(interface_from_sdk)
        .collect();
    let volumes = inst
        .block_device_mappings()
        .iter()
        .filter_map(volume_from_sdk)
        .collect();
    Instance {
        id: inst.instance_id().unwrap_or_default().to_owned(),
        arn,
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
    }
}

/// An interface with an id, from the SDK's description; one without is skipped.
fn interface_from_sdk(eni: &aws_sdk_ec2::types::InstanceNetworkInterface) -> Option<Interface> {
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
}

/// An EBS volume with an id and a device, from the SDK's block device mapping; any other
/// mapping is skipped.
fn volume_from_sdk(m: &aws_sdk_ec2::types::InstanceBlockDeviceMapping) -> Option<Volume> {
    let ebs = m.ebs()?;
    Some(Volume {
        id: ebs.volume_id()?.to_owned(),
        device: m.device_name()?.to_owned(),
        delete_on_termination: ebs.delete_on_termination().unwrap_or(false),
    })
}

/// Events naming more instances than this are read in one round for the whole event, before
/// their cases run; smaller ones are read case by case, beside the incident lock.
pub const READ_AHEAD_ABOVE: usize = 16;
