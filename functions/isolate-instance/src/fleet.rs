//! Leaving the fleet: out of the Auto Scaling group (which launches a replacement) and out of
//! every load balancer, so that no user traffic reaches the instance and no health check
//! replaces it (which would terminate it and destroy the evidence).

use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use futures_util::future::join_all;
use tourniquet::Step;
use tourniquet::errors::sdk_message;

use crate::clients::Clients;
use crate::instance::Instance;

/// Detaches the instance without decrementing the desired capacity: the group launches a
/// healthy replacement and keeps serving.
pub async fn detach(clients: &Clients, inst: &Instance) -> Option<Step> {
    let group = inst.auto_scaling_group.as_deref()?;
    let result = clients
        .autoscaling
        .detach_instances()
        .auto_scaling_group_name(group)
        .instance_ids(&inst.id)
        .should_decrement_desired_capacity(false)
        .send()
        .await;
    Some(match result {
        Ok(_) => Step::ok(
            "asg-detach",
            format!("detached from {group}, desired capacity kept: a replacement launches"),
        ),
        Err(e) => Step::failed("asg-detach", format!("{group}: {}", sdk_message(&e))),
    })
}

/// Whether a registered target is this instance, by id or by one of its private addresses.
fn is_ours(inst: &Instance, target_id: &str) -> bool {
    target_id == inst.id
        || inst
            .interfaces
            .iter()
            .any(|i| i.private_ips.iter().any(|ip| ip == target_id))
}

/// Deregisters the instance from every ELBv2 target group it is in, as an instance target or
/// by IP.
pub async fn leave_target_groups(clients: &Clients, inst: &Instance) -> Vec<Step> {
    let elb = &clients.elbv2;
    let groups: Result<Vec<_>, _> = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect();
    let groups = match groups {
        Ok(g) => g,
        Err(e) => return vec![Step::failed("target-groups", sdk_message(&e))],
    };
    let in_vpc = groups
        .iter()
        .filter(|g| inst.vpc_id.is_none() || g.vpc_id() == inst.vpc_id.as_deref())
        .filter_map(|g| g.target_group_arn());
    let per_group = join_all(in_vpc.map(|arn| leave_target_group(elb, arn, inst))).await;
    per_group.into_iter().flatten().collect()
}

/// Deregisters the instance's targets from the target group `arn`; `None` when it has none
/// there.
async fn leave_target_group(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    inst: &Instance,
) -> Option<Step> {
    let health = match elb
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
    {
        Ok(h) => h,
        Err(e) => return Some(Step::failed(format!("target-group {arn}"), sdk_message(&e))),
    };
    let ours: Vec<TargetDescription> = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .filter(|t| t.id().is_some_and(|id| is_ours(inst, id)))
        .cloned()
        .collect();
    if ours.is_empty() {
        return None;
    }
    let listed = ours
        .iter()
        .map(|t| {
            let id = t.id().unwrap_or_default();
            match t.port() {
                Some(p) => format!("{id}:{p}"),
                None => id.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let step = format!("target-group {arn}");
    Some(
        match elb
            .deregister_targets()
            .target_group_arn(arn)
            .set_targets(Some(ours))
            .send()
            .await
        {
            Ok(_) => Step::ok(step, format!("deregistered {listed}")),
            Err(e) => Step::failed(step, format!("{listed}: {}", sdk_message(&e))),
        },
    )
}

/// Deregisters the instance from every Classic Load Balancer it is in.
pub async fn leave_classic_load_balancers(clients: &Clients, inst: &Instance) -> Vec<Step> {
    let elb = &clients.elb;
    let described = match elb.describe_load_balancers().send().await {
        Ok(d) => d,
        Err(e) => return vec![Step::failed("classic-elb", sdk_message(&e))],
    };
    let names: Vec<&str> = described
        .load_balancer_descriptions()
        .iter()
        .filter(|lb| {
            lb.instances()
                .iter()
                .any(|i| i.instance_id() == Some(inst.id.as_str()))
        })
        .filter_map(|lb| lb.load_balancer_name())
        .collect();
    join_all(names.into_iter().map(|name| async move {
        let step = format!("classic-elb {name}");
        match elb
            .deregister_instances_from_load_balancer()
            .load_balancer_name(name)
            .instances(
                aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(&inst.id)
                    .build(),
            )
            .send()
            .await
        {
            Ok(_) => Step::ok(step, "deregistered"),
            Err(e) => Step::failed(step, sdk_message(&e)),
        }
    }))
    .await
}
