//! The IAM actions each step of an isolation calls; `template.yaml` grants exactly these
//! (and the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    // The live check: the instance, its Auto Scaling group, the groups; a finding confirmed.
    Needs {
        step: "verify",
        actions: &[
            "ec2:DescribeInstances",
            "ec2:DescribeSecurityGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "guardduty:GetFindings",
        ],
    },
    // The quarantine and allow-all groups, made and kept (the sweep, or the first isolation in a VPC).
    Needs {
        step: "prepare-groups",
        actions: &[
            "ec2:DescribeVpcs",
            "ec2:CreateSecurityGroup",
            "ec2:CreateTags",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:DeleteSecurityGroup",
        ],
    },
    Needs {
        step: "allow-all",
        actions: &["ec2:ModifyNetworkInterfaceAttribute"],
    },
    Needs {
        step: "quarantine",
        actions: &["ec2:ModifyNetworkInterfaceAttribute"],
    },
    Needs {
        step: "conntrack",
        actions: &["ec2:ModifyNetworkInterfaceAttribute"],
    },
    Needs {
        step: "nacl",
        actions: &["ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry"],
    },
    Needs {
        step: "asg-detach",
        actions: &["autoscaling:DetachInstances"],
    },
    Needs {
        step: "target-groups",
        actions: &[
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DeregisterTargets",
        ],
    },
    Needs {
        step: "classic-elb",
        actions: &[
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
        ],
    },
    Needs {
        step: "termination-protection",
        actions: &[
            "ec2:DescribeInstanceAttribute",
            "ec2:ModifyInstanceAttribute",
        ],
    },
    Needs {
        step: "shutdown-behaviour",
        actions: &[
            "ec2:DescribeInstanceAttribute",
            "ec2:ModifyInstanceAttribute",
        ],
    },
    Needs {
        step: "delete-on-termination",
        actions: &["ec2:ModifyInstanceAttribute"],
    },
    Needs {
        step: "snapshot",
        actions: &[
            "ec2:DescribeSnapshots",
            "ec2:CreateSnapshot",
            "ec2:CreateTags",
        ],
    },
    Needs {
        step: "status-tag",
        actions: &["ec2:CreateTags"],
    },
    // The instance's role sessions denied by `ec2:SourceInstanceARN`.
    Needs {
        step: "session-deny",
        actions: &[
            "iam:GetInstanceProfile",
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_grants_what_the_steps_declare_and_nothing_else() {
        let template = include_str!("../../../template.yaml");
        let checked =
            tourniquet::permissions::check(template, "IsolateInstanceFunction", PERMISSIONS);
        assert_eq!(checked, Ok(()));
    }
}
