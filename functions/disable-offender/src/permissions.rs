//! The IAM actions each step of a disable calls; `template.yaml` grants exactly these (and
//! the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    // Whether an S3 or KMS call names a trail's bucket or key.
    Needs {
        step: "intake",
        actions: &["cloudtrail:DescribeTrails"],
    },
    // The live check: the user and its keys, the role and its policy, an instance with its role, who assumed the role (CloudTrail's record of AssumeRole).
    Needs {
        step: "verify",
        actions: &[
            "iam:ListAccessKeys",
            "iam:GetUserPolicy",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "ec2:DescribeInstances",
            "iam:GetInstanceProfile",
            "cloudtrail:LookupEvents",
        ],
    },
    Needs {
        step: "deactivate",
        actions: &["iam:UpdateAccessKey"],
    },
    Needs {
        step: "deny-all",
        actions: &["iam:PutUserPolicy"],
    },
    Needs {
        step: "revoke-sessions",
        actions: &["iam:PutRolePolicy"],
    },
    Needs {
        step: "session-deny",
        actions: &["iam:PutRolePolicy"],
    },
    Needs {
        step: "taint",
        actions: &["ec2:CreateTags"],
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

    /// A parameter's default in the template, as a comma-separated list.
    fn default_list<'a>(template: &'a str, parameter: &str) -> Vec<&'a str> {
        let mut lines = template
            .lines()
            .skip_while(|l| l.trim() != format!("{parameter}:"));
        let default = lines
            .find_map(|l| l.trim().strip_prefix("Default: "))
            .unwrap_or_else(|| panic!("{parameter} has no default"));
        default.split(',').map(str::trim).collect()
    }

    /// The offense rule filters on `source`: its sources are exactly those EventBridge gives
    /// the services of its event sources, so that no service's calls are dropped and no
    /// other source is let in.
    #[test]
    fn the_offense_rules_sources_are_its_services() {
        let template = include_str!("../../../template.yaml");
        let sources = default_list(template, "OffenseSources");
        let services = default_list(template, "OffenseEventSources");
        let mut expected: Vec<&str> = services
            .iter()
            .map(|s| match tourniquet::trust::sources_of(s) {
                [first, ..] => *first,
                [] => panic!("{s}: no known EventBridge source"),
            })
            .collect();
        let mut sources_sorted = sources.clone();
        expected.sort_unstable();
        sources_sorted.sort_unstable();
        assert_eq!(sources_sorted, expected);
    }
}
