//! What a notification tells a person beyond the plan: where the investigation of a
//! disabled principal starts, how a disabled user is given back its keys and rights, and
//! the steps for an Identity Center offender, which IAM cannot disable.

use serde_json::json;
use tourniquet::console::{self, Link};
use tourniquet::{Context, Severity, Verdict};

use crate::offender::Offender;
use crate::plan::Disable;
use crate::policy;

/// Next steps for every offender that was disabled.
const COMMON: &str = "Look for persistence it may have left: new users, access keys, roles, trust \
                      policies, Lambda functions or EventBridge rules created since its first offense.";

/// What the investigation of a disabled principal looks at first, and where.
pub(crate) fn follow_up(offender: &Offender, ctx: &Context<'_>) -> (Vec<String>, Vec<Link>) {
    let partition = ctx.framework.partition();
    let region = ctx
        .trigger
        .envelope()
        .map(|e| e.region.as_str())
        .unwrap_or_default();
    match offender {
        Offender::User { name, .. } => user_follow_up(partition, region, name),
        Offender::RoleSession {
            role_name, user_id, ..
        } => session_follow_up(partition, region, role_name, user_id),
        Offender::InstanceSession {
            instance_id,
            role_name,
            ..
        } => instance_follow_up(partition, region, instance_id, role_name),
        Offender::IdentityCenter { .. } | Offender::Untouchable { .. } => (Vec::new(), Vec::new()),
    }
}

fn user_follow_up(partition: &str, region: &str, name: &str) -> (Vec<String>, Vec<Link>) {
    (
        vec![
            format!("Find what user {name} did: its CloudTrail event history, all regions."),
            COMMON.to_owned(),
            format!("Ask the owner of {name}; rotate every secret its keys could read."),
        ],
        vec![
            console::iam_user(partition, name),
            console::events_by(partition, region, name),
        ],
    )
}

fn session_follow_up(
    partition: &str,
    region: &str,
    role_name: &str,
    user_id: &str,
) -> (Vec<String>, Vec<Link>) {
    let session = user_id.split_once(':').map_or(user_id, |(_, s)| s);
    (
        vec![
            format!(
                "Find who assumed role {role_name}: CloudTrail AssumeRole events for it; \
                 the offending session was {user_id} (its name is chosen by the \
                 assumer, not proof of who)."
            ),
            COMMON.to_owned(),
            "Close the way in: the role's trust policy, and the credentials of \
             whoever assumed it."
                .to_owned(),
        ],
        vec![
            console::iam_role(partition, role_name),
            console::events_by(partition, region, session),
        ],
    )
}

fn instance_follow_up(
    partition: &str,
    region: &str,
    instance_id: &str,
    role_name: &str,
) -> (Vec<String>, Vec<Link>) {
    (
        vec![
            format!(
                "Find how the credentials of instance {instance_id} (role {role_name}) were used: CloudTrail events of session {instance_id}, every region."
            ),
            format!(
                "Find how they were taken: a shell on {instance_id}, or a request forged to its metadata service (IMDSv1 lets any SSRF read them; require IMDSv2)."
            ),
            COMMON.to_owned(),
        ],
        vec![console::events_by(partition, region, instance_id)],
    )
}

/// An Identity Center offender over the limit: IAM refuses changes to its role, so a person
/// is woken with the exact steps.
pub(crate) fn identity_center_notice(
    role_arn: &str,
    person: &str,
    record: &str,
) -> Verdict<Disable> {
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    // AWSReservedSSO_<permission set>_<hash>
    let permission_set = role
        .strip_prefix("AWSReservedSSO_")
        .and_then(|r| r.rsplit_once('_'))
        .map_or(role, |(set, _)| set);
    let account = role_arn.split(':').nth(4).unwrap_or("");
    Verdict::Notice {
        severity: Severity::Critical,
        headline: format!("disable {person} in IAM Identity Center now"),
        detail: format!(
            "{record}\nThe offender is {person}, signed in through IAM Identity Center \
             (permission set {permission_set}, role {role_arn}). IAM refuses changes to \
             Identity Center roles, so nothing was changed. A person must now:\n  \
             - disable the user {person} in IAM Identity Center (Users > {person} > Disable \
             user access), which stops new sign-ins;\n  \
             - remove the account assignment: aws sso-admin delete-account-assignment \
             --instance-arn <Identity Center instance> --target-id {account} --target-type \
             AWS_ACCOUNT --permission-set-arn <ARN of {permission_set}> --principal-type USER \
             --principal-id <user id of {person}>;\n  \
             - sessions already issued last until they expire (the permission set's session \
             duration): watch the user's activity until then."
        ),
        facts: json!({
            "principal": role_arn,
            "person": person,
            "permission_set": permission_set,
            "account": account,
        }),
    }
}

/// How a person gives a disabled user back its keys and its rights.
pub(crate) fn user_undo(name: &str, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            format!(
                "aws iam update-access-key --user-name {name} --access-key-id {k} --status Active"
            )
        })
        .chain([format!(
            "aws iam delete-user-policy --user-name {name} --policy-name {}",
            policy::USER_POLICY
        )])
        .collect()
}
