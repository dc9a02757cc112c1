//! The IAM actions each step of the guard calls; `template.yaml` grants exactly these (and
//! the framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    Needs {
        step: "read Tourniquet's rules and put them back",
        actions: &[
            "events:ListRuleNamesByTarget",
            "events:DescribeRule",
            "events:ListTargetsByRule",
            "events:EnableRule",
            "events:PutRule",
            "events:PutTargets",
        ],
    },
    Needs {
        step: "read Tourniquet's functions and restore their concurrency",
        actions: &[
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionConcurrency",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
        ],
    },
    Needs {
        step: "read Tourniquet's keys, cancel their deletion and enable them",
        actions: &[
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:CancelKeyDeletion",
            "kms:EnableKey",
        ],
    },
    Needs {
        step: "whether a call through CloudFormation is this stack's deploy",
        actions: &["cloudformation:DescribeStacks"],
    },
    Needs {
        step: "whether the table and the topic are still there",
        actions: &["dynamodb:DescribeTable", "sns:GetTopicAttributes"],
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
