//! The IAM actions each step of a disable calls; `template.yaml` grants exactly these (and
//! the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    Needs {
        step: "disable a user: its keys inactive, a deny-all policy",
        actions: &[
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
        ],
    },
    Needs {
        step: "deny a role's sessions",
        actions: &["iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy"],
    },
    Needs {
        step: "find who assumed the role, in CloudTrail's record of AssumeRole",
        actions: &["cloudtrail:LookupEvents"],
    },
    Needs {
        step: "whether an S3 or KMS call names a trail's bucket or key",
        actions: &["cloudtrail:DescribeTrails"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_grants_what_the_steps_declare_and_nothing_else() {
        let template = include_str!("../../../template.yaml");
        let checked =
            tourniquet::permissions::check(template, "DisableOffenderFunction", PERMISSIONS);
        assert_eq!(checked, Ok(()));
    }
}
