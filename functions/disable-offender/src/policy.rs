//! The policies that disable a principal: reversible, and no wider than the offender.

use serde_json::{Value, json};

/// The inline policy that disables an IAM user.
pub const USER_POLICY: &str = "tourniquet-disable";

/// Deny everything. On a user it covers the console, its access keys and the sessions it
/// already obtained (temporary credentials of a user carry the user's policies).
pub fn deny_all() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "TourniquetDisable", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    })
}

/// Deny everything to one session of a role: `aws:userid` is `ROLEID:SESSION` for an
/// assumed-role session, so other sessions of the role keep working.
pub fn deny_session(user_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TourniquetDisableSession",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:userid": user_id}}
        }]
    })
}

/// The inline policy on a role that revokes its sessions issued before a cutoff.
pub const REVOKE_POLICY: &str = "tourniquet-revoke-older-sessions";

/// Deny everything to every session of a role issued before `cutoff` (RFC 3339): what the
/// IAM console's "Revoke active sessions" does. Sessions issued later are not affected, so
/// whoever may legitimately assume the role can do so again.
pub fn deny_sessions_before(cutoff: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TourniquetRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}
        }]
    })
}

/// The cutoff of a revoke policy as IAM returns it (URL-encoded JSON), if it is one.
pub fn cutoff_of(encoded: &str) -> Option<String> {
    let doc = tourniquet::iam::policy_document(encoded)?;
    doc.get("Statement")?
        .as_array()?
        .iter()
        .find_map(|s| {
            s.get("Condition")?
                .get("DateLessThan")?
                .get("aws:TokenIssueTime")
        })?
        .as_str()
        .map(str::to_owned)
}

/// The inline policy name for one session: IAM names allow `[A-Za-z0-9+=,.@_-]`, at most
/// 128 characters; the session id's `:` and anything else becomes `-`.
pub fn session_policy_name(user_id: &str) -> String {
    let clean: String = user_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("tourniquet-disable-{clean}");
    name.truncate(128);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_deny_is_scoped_to_the_session() {
        let doc = deny_session("AROAEXAMPLE:mallory");
        assert_eq!(doc["Statement"][0]["Effect"], "Deny");
        assert_eq!(
            doc["Statement"][0]["Condition"]["StringEquals"]["aws:userid"],
            "AROAEXAMPLE:mallory"
        );
        assert_eq!(deny_all()["Statement"][0]["Action"], "*");
        assert!(deny_all()["Statement"][0].get("Condition").is_none());
    }

    #[test]
    fn revoke_policy_denies_older_sessions_and_reads_back() {
        let doc = deny_sessions_before("2026-11-29T12:00:00Z");
        assert_eq!(
            doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-11-29T12:00:00Z"
        );
        let encoded = doc
            .to_string()
            .replace('{', "%7B")
            .replace('"', "%22")
            .replace(':', "%3A");
        assert_eq!(cutoff_of(&encoded).as_deref(), Some("2026-11-29T12:00:00Z"));
        assert_eq!(
            cutoff_of(&doc.to_string()).as_deref(),
            Some("2026-11-29T12:00:00Z")
        );
        assert_eq!(cutoff_of(&deny_all().to_string()), None);
        assert_eq!(cutoff_of("%zz not json %"), None);
    }

    #[test]
    fn session_policy_names_are_valid_iam_names() {
        assert_eq!(
            session_policy_name("AROA1:ci-run@42"),
            "tourniquet-disable-AROA1-ci-run@42"
        );
        let long = session_policy_name(&format!("AROA1:{}", "x".repeat(300)));
        assert_eq!(long.len(), 128);
        assert!(
            session_policy_name("A:b/c d")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        );
    }
}
