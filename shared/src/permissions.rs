//! Permissions declared beside the code: each step names the IAM actions it calls, and a
//! unit test in each function compares them with what `template.yaml` allows its role, both
//! ways. A step that gains a call cannot ship without its permission, and the template
//! cannot keep a grant no step uses.

use std::collections::BTreeSet;

/// The IAM actions one step needs.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// The step's own name, as its line in a notification starts (`session-deny`); a read
    /// that is no step of its own is named by its stage (`verify`, `intake`, `audit`).
    pub step: &'static str,
    pub actions: &'static [&'static str],
}

/// What the framework itself calls for every function: its history, its topic, its key.
pub const FRAMEWORK: &[Needs] = &[
    Needs {
        step: "history",
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
        ],
    },
    Needs {
        step: "notify",
        actions: &["sns:Publish"],
    },
    Needs {
        step: "stack-key",
        actions: &["kms:Decrypt", "kms:GenerateDataKey"],
    },
];

/// What a function that acts in member accounts calls to reach one (`MEMBER_ROLE_NAME`);
/// granted only in an organization. The member role grants the function's other steps.
pub const MEMBER_ACCESS: Needs = Needs {
    step: "reach",
    actions: &["sts:AssumeRole"],
};

/// Every action the framework and a function's steps declare.
pub fn declared(function: &[Needs]) -> BTreeSet<String> {
    FRAMEWORK
        .iter()
        .chain(function)
        .flat_map(|n| n.actions.iter().map(|a| (*a).to_owned()))
        .collect()
}

/// An IAM action written in the template: `service:Action`.
fn is_action(word: &str) -> bool {
    word.split_once(':').is_some_and(|(service, action)| {
        !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !action.is_empty()
            && action
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'*')
    })
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The policy the functions' roles share, beside each function's own `Policies`: what cannot
/// sit there without a dependency cycle (the history table's policy names the roles).
pub const SHARED_POLICY: &str = "SharedRolePolicy";

/// The lines of a resource's block in the template.
fn block<'a>(template: &'a str, logical_id: &str) -> impl Iterator<Item = &'a str> {
    let start = format!("  {logical_id}:");
    template
        .lines()
        .skip_while(move |l| *l != start)
        .skip(1)
        .take_while(|l| l.is_empty() || indent(l) > 2)
}

/// Whether the shared policy is attached to the function's role (`!Ref <Function>Role`).
fn shares(template: &str, logical_id: &str) -> bool {
    let role = format!("!Ref {logical_id}Role");
    block(template, SHARED_POLICY).any(|l| l.trim().starts_with("Roles:") && l.contains(&role))
}

/// The actions a function's role is allowed in the template: its `Policies`, and the shared
/// policy when that is attached to its role.
pub fn allowed_in_template(template: &str, logical_id: &str) -> BTreeSet<String> {
    let mut allowed = allowed_in(block(template, logical_id), "Policies:");
    if shares(template, logical_id) {
        allowed.extend(allowed_in(
            block(template, SHARED_POLICY),
            "PolicyDocument:",
        ));
    }
    allowed
}

/// The actions a role of a template (`AWS::IAM::Role`, the member stack's) allows in its
/// `Policies`.
pub fn allowed_by_role(template: &str, logical_id: &str) -> BTreeSet<String> {
    allowed_in(block(template, logical_id), "Policies:")
}

/// The actions the `Allow` statements under `heading` grant, read from this template's own
/// layout (`Effect:` before `Action:`, actions inline in `[...]` or one per `- ` line). Not a
/// YAML parser: the template's tests keep its layout.
fn allowed_in<'a>(block: impl Iterator<Item = &'a str>, heading: &str) -> BTreeSet<String> {
    let mut lines = block
        .skip_while(|l| l.trim() != heading)
        .take_while(|l| l.trim() != "Events:")
        .peekable();
    let mut allowed = BTreeSet::new();
    let mut allow = false;
    while let Some(line) = lines.next() {
        let trimmed = line.trim().trim_start_matches("- ");
        if let Some(effect) = trimmed.strip_prefix("Effect:") {
            allow = effect.trim() == "Allow";
            continue;
        }
        let Some(value) = trimmed.strip_prefix("Action:") else {
            continue;
        };
        let mut actions: Vec<String> = value
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| is_action(a))
            .collect();
        if value.trim().is_empty() {
            let depth = indent(line);
            while let Some(next) =
                lines.next_if(|l| indent(l) > depth && l.trim().starts_with("- "))
            {
                let action = next.trim().trim_start_matches("- ").trim();
                if is_action(action) {
                    actions.push(action.to_owned());
                }
            }
        }
        if allow {
            allowed.extend(actions);
        }
    }
    allowed
}

/// What the template grants that nothing declares, and what is declared but not granted.
pub fn mismatch(
    template: &str,
    logical_id: &str,
    function: &[Needs],
) -> (Vec<String>, Vec<String>) {
    let allowed = allowed_in_template(template, logical_id);
    let declared = declared(function);
    (
        allowed.difference(&declared).cloned().collect(),
        declared.difference(&allowed).cloned().collect(),
    )
}

/// For each function's unit test: the template grants what the steps declare, nothing else.
pub fn check(template: &str, logical_id: &str, function: &[Needs]) -> Result<(), String> {
    match mismatch(template, logical_id, function) {
        (extra, missing) if extra.is_empty() && missing.is_empty() => Ok(()),
        (extra, missing) => Err(format!(
            "{logical_id}: granted but declared by no step: {extra:?}; declared but not \
             granted: {missing:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "\
Resources:
  OneFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Sid: Read
              Effect: Allow
              Action: [ec2:DescribeInstances, ec2:Describe*]
              Resource: \"*\"
            - Effect: Allow
              Action:
                - iam:GetRole
                - iam:PutRolePolicy
              Condition:
                StringEquals: {ec2:CreateAction: CreateSnapshot}
            - Effect: Deny
              Action: iam:*
      Events:
        Rule:
          Properties:
            Action: events:Ignored
  OtherFunction:
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: sns:Publish
  SharedRolePolicy:
    Properties:
      Roles: [!Ref OtherFunctionRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:GetItem]
          - Effect: Deny
            Action: iam:*
";

    #[test]
    fn only_the_functions_own_allow_statements_count() {
        let allowed = allowed_in_template(TEMPLATE, "OneFunction");
        assert_eq!(
            allowed.into_iter().collect::<Vec<_>>(),
            [
                "ec2:Describe*",
                "ec2:DescribeInstances",
                "iam:GetRole",
                "iam:PutRolePolicy"
            ]
        );
        assert_eq!(
            allowed_in_template(TEMPLATE, "OtherFunction")
                .into_iter()
                .collect::<Vec<_>>(),
            ["dynamodb:GetItem", "sns:Publish"],
            "the shared policy counts for the roles it is attached to"
        );
    }

    #[test]
    fn a_mismatch_names_both_sides() {
        const NEEDS: &[Needs] = &[Needs {
            step: "read",
            actions: &[
                "ec2:DescribeInstances",
                "iam:GetRole",
                "iam:PutRolePolicy",
                "ec2:CreateTags",
            ],
        }];
        let (extra, missing) = mismatch(TEMPLATE, "OneFunction", NEEDS);
        assert_eq!(extra, ["ec2:Describe*"]);
        assert!(missing.contains(&"ec2:CreateTags".to_owned()));
        assert!(missing.contains(&"sns:Publish".to_owned()));
    }
}
