//! Preserving evidence: the instance cannot be terminated by accident, stops rather than
//! terminates on shutdown, keeps its volumes if it is terminated anyway, and every attached
//! volume is snapshotted as it is now.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, EbsInstanceBlockDeviceSpecification,
    InstanceAttributeName, InstanceBlockDeviceMappingSpecification, ResourceType, Tag,
    TagSpecification,
};
use futures_util::future::join_all;
use tourniquet::Step;
use tourniquet::errors::sdk_message;

use crate::instance::Instance;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn step(name: &str, ok: &str, result: Result<(), String>) -> Step {
    match result {
        Ok(()) => Step::ok(name, ok),
        Err(e) => Step::failed(name, e),
    }
}

/// The attribute's value before the step changed it, for the record and the release. Read in
/// the step, beside the network cut, not before it; unreadable is said so, never guessed.
async fn was(ec2: &Client, inst: &Instance, name: InstanceAttributeName) -> String {
    let read = ec2
        .describe_instance_attribute()
        .instance_id(&inst.id)
        .attribute(name.clone())
        .send()
        .await;
    let value = read.ok().and_then(|a| match name {
        InstanceAttributeName::DisableApiTermination => a
            .disable_api_termination()
            .and_then(AttributeBooleanValue::value)
            .map(|on| if on { "on" } else { "off" }.to_owned()),
        _ => a
            .instance_initiated_shutdown_behavior()
            .and_then(|v| v.value())
            .map(str::to_owned),
    });
    value.unwrap_or_else(|| "unknown".to_owned())
}

async fn termination_protection(ec2: &Client, inst: &Instance) -> Step {
    let before = was(ec2, inst, InstanceAttributeName::DisableApiTermination).await;
    let r = ec2
        .modify_instance_attribute()
        .instance_id(&inst.id)
        .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await;
    step(
        "termination-protection",
        &format!("on (was {before})"),
        r.map(|_| ()).map_err(|e| sdk_message(&e)),
    )
}

async fn stop_on_shutdown(ec2: &Client, inst: &Instance) -> Step {
    let before = was(
        ec2,
        inst,
        InstanceAttributeName::InstanceInitiatedShutdownBehavior,
    )
    .await;
    let r = ec2
        .modify_instance_attribute()
        .instance_id(&inst.id)
        .instance_initiated_shutdown_behavior(AttributeValue::builder().value("stop").build())
        .send()
        .await;
    step(
        "shutdown-behaviour",
        &format!("stop (was {before})"),
        r.map(|_| ()).map_err(|e| sdk_message(&e)),
    )
}

async fn keep_volumes(ec2: &Client, inst: &Instance) -> Option<Step> {
    let mappings: Vec<_> = inst
        .volumes
        .iter()
        .filter(|v| v.delete_on_termination)
        .map(|v| {
            InstanceBlockDeviceMappingSpecification::builder()
                .device_name(&v.device)
                .ebs(
                    EbsInstanceBlockDeviceSpecification::builder()
                        .delete_on_termination(false)
                        .build(),
                )
                .build()
        })
        .collect();
    if mappings.is_empty() {
        return None;
    }
    let devices = inst
        .volumes
        .iter()
        .filter(|v| v.delete_on_termination)
        .map(|v| v.device.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let r = ec2
        .modify_instance_attribute()
        .instance_id(&inst.id)
        .set_block_device_mappings(Some(mappings))
        .send()
        .await;
    Some(step(
        "delete-on-termination",
        &format!("off for {devices}"),
        r.map(|_| ()).map_err(|e| sdk_message(&e)),
    ))
}

async fn snapshot(
    ec2: &Client,
    inst: &Instance,
    volume: &crate::instance::Volume,
    incident: &str,
) -> Step {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .tags(tag("tourniquet:instance", &inst.id))
        .tags(tag("tourniquet:incident", incident))
        .tags(tag("tourniquet:device", &volume.device))
        .tags(tag(
            "Name",
            &format!("tourniquet evidence {} {}", inst.id, volume.device),
        ))
        .build();
    let r = ec2
        .create_snapshot()
        .volume_id(&volume.id)
        .description(format!(
            "Tourniquet evidence: {} of {} (incident {incident})",
            volume.device, inst.id
        ))
        .tag_specifications(tags)
        .send()
        .await;
    let name = format!("snapshot {}", volume.id);
    match r {
        Ok(out) => {
            let id = out.snapshot_id().unwrap_or("snapshot");
            Step::ok(name, format!("{id} of {} ({})", volume.id, volume.device)).with_evidence(id)
        }
        Err(e) => Step::failed(name, sdk_message(&e)),
    }
}

/// The volumes this incident already snapshotted (an incident resumed after its invocation
/// died), by volume id. A failed read snapshots again: two copies beat none.
async fn snapshotted(ec2: &Client, incident: &str) -> Vec<(String, String)> {
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("tag:tourniquet:incident")
        .values(incident)
        .build();
    match ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(filter)
        .send()
        .await
    {
        Ok(out) => out
            .snapshots()
            .iter()
            .filter_map(|s| Some((s.volume_id()?.to_owned(), s.snapshot_id()?.to_owned())))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %sdk_message(&e), "could not list this incident's snapshots");
            Vec::new()
        }
    }
}

/// One snapshot per volume and incident.
async fn snapshots(ec2: &Client, inst: &Instance, incident: &str) -> Vec<Step> {
    let done = snapshotted(ec2, incident).await;
    join_all(inst.volumes.iter().map(|v| async {
        match done.iter().find(|(volume, _)| *volume == v.id) {
            Some((_, snapshot)) => Step::ok(
                format!("snapshot {}", v.id),
                format!(
                    "{snapshot} of {} ({}), taken earlier in this incident",
                    v.id, v.device
                ),
            )
            .with_evidence(snapshot),
            None => snapshot(ec2, inst, v, incident).await,
        }
    }))
    .await
}

/// Every evidence step, concurrently.
pub async fn preserve(ec2: &Client, inst: &Instance, incident: &str) -> Vec<Step> {
    let (protection, shutdown, volumes, snapshots) = tokio::join!(
        termination_protection(ec2, inst),
        stop_on_shutdown(ec2, inst),
        keep_volumes(ec2, inst),
        snapshots(ec2, inst, incident)
    );
    let mut steps = vec![protection, shutdown];
    steps.extend(volumes);
    steps.extend(snapshots);
    steps
}

/// Marks the instance with the outcome of the network cut, so that people and later events
/// see it: `quarantined` only when every interface is in the quarantine group.
pub async fn mark(
    ec2: &Client,
    inst: &Instance,
    incident: &str,
    quarantined: bool,
    at: &str,
) -> Step {
    let status = if quarantined {
        "quarantined"
    } else {
        "isolation-incomplete"
    };
    let r = ec2
        .create_tags()
        .resources(&inst.id)
        .tags(tag(crate::STATUS_TAG, status))
        .tags(tag("tourniquet:incident", incident))
        .tags(tag("tourniquet:isolated-at", at))
        .send()
        .await;
    step(
        "status-tag",
        &format!("{}={status}", crate::STATUS_TAG),
        r.map(|_| ()).map_err(|e| sdk_message(&e)),
    )
}
