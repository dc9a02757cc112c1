//! The IAM actions each step of an isolation calls; `template.yaml` grants exactly these
//! (and the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    Needs {
        step: "read the instance, its Auto Scaling group and Tourniquet's groups",
        actions: &[
            "ec2:DescribeInstances",
            "ec2:DescribeSecurityGroups",
            "autoscaling:DescribeAutoScalingInstances",
        ],
    },
    Needs {
        step: "prepare and keep the quarantine and allow-all groups",
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
        step: "a GuardDuty finding confirmed by GuardDuty before it isolates",
        actions: &["guardduty:GetFindings"],
    },
    Needs {
        step: "allow-all, quarantine, connection tracking",
        actions: &["ec2:ModifyNetworkInterfaceAttribute"],
    },
    Needs {
        step: "network ACL deny entries",
        actions: &["ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry"],
    },
    Needs {
        step: "leave the Auto Scaling group and the load balancers",
        actions: &[
            "autoscaling:DetachInstances",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
        ],
    },
    Needs {
        step: "evidence and the status tag",
        actions: &[
            "ec2:DescribeInstanceAttribute",
            "ec2:ModifyInstanceAttribute",
            "ec2:DescribeSnapshots",
            "ec2:CreateSnapshot",
            "ec2:CreateTags",
        ],
    },
    Needs {
        step: "deny the instance's role sessions",
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
