//! The IAM actions each step of the guard calls; `template.yaml` grants exactly these (and
//! the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    // The live check and the hourly audit: the rules, functions and keys; whether a call through CloudFormation is this stack's deploy; the table and the topic.
    Needs {
        step: "verify",
        actions: &[
            "events:ListRuleNamesByTarget",
            "events:DescribeRule",
            "events:ListTargetsByRule",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionConcurrency",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "cloudformation:DescribeStacks",
            "dynamodb:DescribeTable",
            "sns:GetTopicAttributes",
        ],
    },
    Needs {
        step: "put-rule",
        actions: &["events:PutRule"],
    },
    Needs {
        step: "enable-rule",
        actions: &["events:EnableRule"],
    },
    Needs {
        step: "put-targets",
        actions: &["events:PutTargets"],
    },
    Needs {
        step: "concurrency",
        actions: &[
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
        ],
    },
    Needs {
        step: "cancel-key-deletion",
        actions: &["kms:CancelKeyDeletion"],
    },
    Needs {
        step: "enable-key",
        actions: &["kms:EnableKey"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_grants_what_the_steps_declare_and_nothing_else() {
        let template = include_str!("../../../template.yaml");
        let checked =
            tourniquet::permissions::check(template, "GuardTourniquetFunction", PERMISSIONS);
        assert_eq!(checked, Ok(()));
    }
}
