//! What an isolation tells a person about its instance: the plan, how to undo it, what to
//! look at next and where in the console.

use serde_json::Value;
use tourniquet::console::{self, Link};
use tourniquet::{Subject, Trigger, credentials};

use crate::groups::Known;
use crate::instance::Instance;
use crate::target::Target;
use crate::{Isolator, STATUS_TAG};

impl Isolator {
    /// The subject to act on: the live instance with its groups, `before` and `undo` from the
    /// state to return to (the live one, or the one recorded when the incident opened).
    pub(crate) fn subject(
        &self,
        inst: Instance,
        groups: Known,
        before: Value,
        undo: Vec<String>,
        trigger: &Trigger,
    ) -> Subject<Target> {
        Subject {
            before,
            summary: inst.describe(),
            plan: self.plan(&inst),
            undo,
            next_steps: self.next_steps(&inst),
            links: self.links(&inst, trigger),
            subject: Target {
                instance: inst,
                groups,
            },
        }
    }

    /// What acting will do, step by step: what a dry run reports.
    fn plan(&self, inst: &Instance) -> Vec<String> {
        let mut plan = Vec::new();
        if let Some(g) = &inst.auto_scaling_group {
            plan.push(format!(
                "detach from Auto Scaling group {g}, keeping desired capacity"
            ));
        }
        plan.push("deregister from every ELBv2 target group and Classic Load Balancer".into());
        for eni in &inst.interfaces {
            plan.push(format!(
                "{}: {} then {} (was {})",
                eni.id,
                self.config.allow_all_group(),
                self.config.quarantine_group,
                eni.groups.join(", ")
            ));
        }
        plan.push(
            "deny the instance's addresses in its subnets' network ACLs, both directions".into(),
        );
        plan.push("connection-tracking idle timeouts to their minimums".into());
        plan.push("termination protection on, shutdown behaviour stop".into());
        for v in &inst.volumes {
            plan.push(format!(
                "snapshot {} ({}), keep it on termination",
                v.id, v.device
            ));
        }
        if let Some(p) = &inst.instance_profile_arn {
            plan.push(format!(
                "deny all to this instance's sessions of the role of {p}"
            ));
        }
        plan.push(format!("tag {STATUS_TAG}=quarantined"));
        plan
    }

    /// What the investigation looks at first, once the instance is cut off.
    fn next_steps(&self, inst: &Instance) -> Vec<String> {
        let mut steps = vec![format!(
            "Examine the evidence snapshots from a forensic instance in an isolated VPC or \
             account; never attach them to {} itself.",
            inst.id
        )];
        if let Some(reason) = inst.tags.get(&self.config.taint_key) {
            steps.push(format!(
                "Find how the attacker got in; the taint says: \"{reason}\" (written by whoever \
                 tagged the instance, not verified)."
            ));
        }
        if inst.instance_profile_arn.is_some() {
            steps.push(format!(
                "Look in CloudTrail for what the instance's role did: its sessions on {} carry \
                 ec2:SourceInstanceARN {}. Rotate every secret the instance could read.",
                inst.id, inst.arn
            ));
        }
        steps.push(format!(
            "Release {} or terminate it once the evidence is examined; until then it stays cut \
             off.",
            inst.id
        ));
        steps
    }

    /// The instance, the finding that named it and its instance profile, in the console.
    fn links(&self, inst: &Instance, trigger: &Trigger) -> Vec<Link> {
        let region = inst.arn.split(':').nth(3).unwrap_or_default();
        let mut links = vec![console::instance(&self.partition, region, &inst.id)];
        if let Trigger::Finding(envelope, finding) = trigger {
            links.push(console::guardduty_finding(
                &self.partition,
                &envelope.region,
                &finding.id,
            ));
        }
        if let Some(profile) = inst
            .instance_profile_arn
            .as_deref()
            .and_then(credentials::profile_name)
        {
            links.push(console::instance_profile(&self.partition, profile));
        }
        links
    }

    /// How a person puts `inst` back as it was, once the investigation allows.
    pub(crate) fn undo(&self, inst: &Instance) -> Vec<String> {
        let mut undo: Vec<String> = inst
            .interfaces
            .iter()
            .map(|eni| {
                format!(
                    "aws ec2 modify-network-interface-attribute --network-interface-id {} --groups {}",
                    eni.id,
                    eni.groups.join(" ")
                )
            })
            .collect();
        if let Some(p) = inst
            .instance_profile_arn
            .as_deref()
            .and_then(credentials::profile_name)
        {
            undo.push(format!(
                "in the inline policy {} of the role of instance profile {p}, remove {} from the \
                 ec2:SourceInstanceARN list (aws iam get-role-policy / put-role-policy; delete \
                 the policy when no other instance is listed)",
                credentials::POLICY_NAME,
                inst.arn
            ));
        }
        undo.push(
            "delete the network ACL deny entries each `nacl` step lists, with the command it \
             names (aws ec2 delete-network-acl-entry ...)"
                .to_owned(),
        );
        undo.push(format!(
            "aws ec2 modify-instance-attribute --instance-id {} --no-disable-api-termination \
             (once the evidence is kept; unless the termination-protection step says it was \
             on), the shutdown behaviour back to what the shutdown-behaviour step says it was, \
             and remove the tag {STATUS_TAG}",
            inst.id
        ));
        undo
    }
}
