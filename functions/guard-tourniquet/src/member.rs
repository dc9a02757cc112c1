//! The member stack in member accounts: its forwarding rules and role (`tourniquet-forward-*`)
//! and the member role. Whoever disables a rule blinds Tourniquet to that account; whoever
//! changes the role stops it acting there. The member stack's watch rules forward such
//! calls; the guard pages. It does not put them back: the stack set does.

use serde_json::json;
use tourniquet::events::{ApiCall, fields};
use tourniquet::{Severity, Verdict};

/// The names of the member stack's rules, and of its forwarding role.
pub const NAME_PREFIX: &str = "tourniquet-forward-";

/// The roles a stack set updates its instances as (self-managed, service-managed).
const STACK_SET_ROLES: [&str; 2] = [
    "assumed-role/AWSCloudFormationStackSetExecutionRole/",
    "assumed-role/stacksets-exec-",
];

/// What of the member stack a call in a member account touched, as an ARN, and what it is.
pub fn touched(
    call: &ApiCall,
    role_name: Option<&str>,
    partition: &str,
    account: &str,
) -> Option<(String, String)> {
    let params = fields("detail.requestParameters", &call.request_parameters).ok()?;
    match call.event_source.as_str() {
        "events.amazonaws.com" => {
            let name = params
                .opt_str("name")
                .ok()
                .flatten()
                .or(params.opt_str("rule").ok().flatten())?;
            name.starts_with(NAME_PREFIX).then(|| {
                (
                    format!(
                        "arn:{partition}:events:{}:{account}:rule/{name}",
                        call.region
                    ),
                    format!("forwarding rule {name} ({})", call.region),
                )
            })
        }
        "iam.amazonaws.com" => {
            let name = params.opt_str("roleName").ok().flatten()?;
            let what = if Some(name) == role_name {
                format!("member role {name}")
            } else if name.starts_with(NAME_PREFIX) {
                format!("forwarding role {name}")
            } else {
                return None;
            };
            Some((format!("arn:{partition}:iam::{account}:role/{name}"), what))
        }
        _ => None,
    }
}

/// The page for a call on the member stack.
pub fn disarmed<S>(call: &ApiCall, who: &str, what: &str, account: &str) -> Verdict<S> {
    let effect = if what.starts_with("member role") {
        "Tourniquet may no longer be able to act in this account"
    } else {
        "Tourniquet may no longer see this account's events in that region"
    };
    // A stack set updates its instances through CloudFormation, as its execution role: told,
    // not paged. Any other stack is someone's way around the page.
    let by_stack_set = call.source_ip.as_deref() == Some("cloudformation.amazonaws.com")
        && STACK_SET_ROLES.iter().any(|r| who.contains(r));
    let (severity, effect) = if by_stack_set {
        (
            Severity::Warning,
            format!(
                "made through CloudFormation, as a stack set update does; if none ran, {effect}"
            ),
        )
    } else {
        (Severity::Critical, effect.to_owned())
    };
    Verdict::Notice {
        severity,
        headline: format!("member stack disarmed in account {account}: {what}"),
        detail: format!(
            "{who} called {} on Tourniquet's {what} in account {account}: {effect}. Put the \
             member stack back (update the stack set's instances for this account), then \
             find what else the principal did.",
            call.event_name
        ),
        facts: json!({"account": account, "resource": what, "call": call.event_name, "by": who}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The call as CloudTrail delivers it through EventBridge.
    fn call(source: &str, name: &str, params: Value) -> ApiCall {
        let event = json!({
            "id": "e-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.events",
            "account": "222222222222", "region": "eu-west-1", "time": "2026-11-29T03:00:00Z",
            "detail": {
                "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
                "userIdentity": {"type": "Root", "arn": "arn:aws:iam::222222222222:root",
                                 "accountId": "222222222222"},
                "requestParameters": params
            }
        });
        match tourniquet::events::decode(&event) {
            Ok(tourniquet::Trigger::ApiCall(_, call)) => call,
            other => panic!("not an API call: {other:?}"),
        }
    }

    #[test]
    fn the_member_stack_s_rules_and_role_are_known_by_name() {
        let disable = call(
            "events.amazonaws.com",
            "DisableRule",
            json!({"name": "tourniquet-forward-taints"}),
        );
        assert_eq!(
            touched(&disable, Some("tq-member"), "aws", "222222222222").map(|t| t.0),
            Some("arn:aws:events:eu-west-1:222222222222:rule/tourniquet-forward-taints".into())
        );
        let targets = call(
            "events.amazonaws.com",
            "RemoveTargets",
            json!({"rule": "tourniquet-forward-watch-a", "ids": ["central"]}),
        );
        assert!(touched(&targets, None, "aws", "222222222222").is_some());
        let forward = call(
            "iam.amazonaws.com",
            "PutRolePolicy",
            json!({"roleName": "tourniquet-forward-eu-west-1"}),
        );
        assert_eq!(
            touched(&forward, Some("tq-member"), "aws", "222222222222").map(|t| t.1),
            Some("forwarding role tourniquet-forward-eu-west-1".into())
        );
        let other = call(
            "events.amazonaws.com",
            "DisableRule",
            json!({"name": "nightly"}),
        );
        assert_eq!(touched(&other, None, "aws", "222222222222"), None);
        let role = call(
            "iam.amazonaws.com",
            "UpdateAssumeRolePolicy",
            json!({"roleName": "tq-member"}),
        );
        assert_eq!(
            touched(&role, Some("tq-member"), "aws", "222222222222").map(|t| t.1),
            Some("member role tq-member".into())
        );
        assert_eq!(touched(&role, None, "aws", "222222222222"), None);
    }
}
