//! Events Tourniquet may not act on: from an account it does not reach (not its own, not in
//! `MEMBER_ACCOUNTS`, or whose member role cannot be assumed). Nothing is changed there; a
//! person is told, and woken if the event carries a taint or tampering.

use serde_json::json;

use crate::events::Trigger;
use crate::members::{Refusal, Scope};
use crate::notify::{Notification, Severity};

/// The notification for an event refused in `scope`. `threat`: the event asks for
/// containment or reports tampering, which now nobody answers.
pub fn notice(
    trigger: &Trigger,
    delivery_id: &str,
    scope: &Scope,
    refusal: &Refusal,
    threat: bool,
) -> Notification {
    let severity = if threat {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let what = trigger.describe();
    let mut body = vec![
        format!(
            "An event of {} was not acted on: {refusal}. Nothing was changed there.",
            scope.describe()
        ),
        format!("Trigger: {what}."),
    ];
    if threat {
        body.push(
            "The event asks for containment or reports tampering: nobody has answered it. \
             Act on it by hand now."
                .to_owned(),
        );
    }
    let fix = remedy(scope, refusal);
    let mut next_steps = Vec::new();
    if threat {
        next_steps.push(format!("Contain by hand in {}: {what}.", scope.describe()));
    }
    next_steps.push(fix);
    Notification {
        severity,
        action: "refused".to_owned(),
        resource: format!("account {}", scope.account),
        headline: format!(
            "not acted on: event of account {} ({})",
            scope.account, scope.region
        ),
        body,
        next_steps,
        links: Vec::new(),
        incident: delivery_id.to_owned(),
        scope: Some(scope.clone()),
        facts: json!({
            "delivery_id": delivery_id,
            "trigger": what,
            "account": scope.account,
            "region": scope.region,
            "refused": refusal.to_string(),
        }),
    }
}

/// What a person does about a refusal, by its kind.
fn remedy(scope: &Scope, refusal: &Refusal) -> String {
    match refusal {
        Refusal::OneAccount(a) => format!(
            "If account {a} is yours, deploy Tourniquet's member stack there and set \
             MEMBER_ROLE_NAME on the central stack; otherwise find why its events reach this bus."
        ),
        Refusal::NotListed(a) => format!(
            "If account {a} should be covered, add it to MEMBER_ACCOUNTS; otherwise find why \
             its events reach this bus (its bus policy admits the organization)."
        ),
        Refusal::NotAnAccount(a) => format!("Find what sent an event naming account {a:?}."),
        Refusal::CannotAssume { role, .. } | Refusal::Unreachable { role, .. } => format!(
            "Check the member stack in account {}: {role} must exist, trust this function's \
             role and expect the configured external id. Someone may have removed it.",
            scope.account
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::decode;

    fn tag_event() -> Trigger {
        decode(&json!({
            "id": "e-1", "detail-type": "Tag Change on Resource", "source": "aws.tag",
            "account": "444455556666", "region": "us-east-2", "time": "2026-11-29T03:00:00Z",
            "resources": ["arn:aws:ec2:us-east-2:444455556666:instance/i-0abc"],
            "detail": {"changed-tag-keys": ["Tainted"], "service": "ec2", "resource-type": "instance",
                       "version": 1, "tags": {"Tainted": "yes"}}
        }))
        .unwrap()
    }

    #[test]
    fn a_refused_threat_pages_and_says_to_act_by_hand() {
        let scope = Scope::new("444455556666", "us-east-2");
        let n = notice(
            &tag_event(),
            "e-1",
            &scope,
            &Refusal::NotListed("444455556666".into()),
            true,
        );
        assert_eq!(n.severity, Severity::Critical);
        assert!(n.headline.contains("444455556666"), "{}", n.headline);
        assert!(n.body[0].contains("not in MEMBER_ACCOUNTS"), "{:?}", n.body);
        assert!(n.next_steps[0].starts_with("Contain by hand"));
        assert!(n.next_steps[1].contains("MEMBER_ACCOUNTS"));
        assert_eq!(n.place(&Scope::new("111122223333", "eu-west-1")), scope);
    }

    #[test]
    fn a_refused_event_without_a_threat_warns() {
        let scope = Scope::new("444455556666", "us-east-2");
        let refusal = Refusal::CannotAssume {
            role: "arn:aws:iam::444455556666:role/tq-member".into(),
            error: "AccessDenied".into(),
        };
        let n = notice(&tag_event(), "e-1", &scope, &refusal, false);
        assert_eq!(n.severity, Severity::Warning);
        assert_eq!(n.next_steps.len(), 1);
        assert!(n.next_steps[0].contains("tq-member"));
    }
}
