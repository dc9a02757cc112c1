//! What a resource policy (a bucket's, a key's) lets CloudTrail do, read from the document.
//!
//! Two facts matter for delivery: the statements that allow CloudTrail to write are still
//! there, and no deny the last known good policy did not have can stop it. The whole
//! document is kept in the baseline, so that healing puts back exactly what was there.

use serde_json::Value;

/// CloudTrail's service principal, as policies name it.
pub const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";

/// A statement's value that may be one string or a list of them.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The statements of a policy document, whether `Statement` is one object or a list.
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// `pattern` (IAM wildcards `*` and `?`, case-insensitive) matches `action`. In linear time
/// with one step back per `*`: a pattern of many stars, which anyone who can put a policy may
/// write, costs no more than a plain one.
fn matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.as_bytes(), action.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < a.len() {
        match p.get(i) {
            Some(b'*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&a[j]) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p[i.min(p.len())..].iter().all(|&c| c == b'*')
}

/// Whether the statement's principal includes the service: by name, or everyone.
fn names_service(statement: &Value, service: &str) -> bool {
    match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(p)) => {
            strings(p.get("Service")).contains(&service) || strings(p.get("AWS")).contains(&"*")
        }
        _ => false,
    }
}

fn effect_is(statement: &Value, effect: &str) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some(effect)
}

fn covers(statement: &Value, action: &str) -> bool {
    strings(statement.get("Action"))
        .iter()
        .any(|p| matches(p, action))
        || statement.get("NotAction").is_some_and(|_| {
            !strings(statement.get("NotAction"))
                .iter()
                .any(|p| matches(p, action))
        })
}

/// The statements that let `service` call `action`.
pub fn grants<'a>(doc: &'a Value, service: &str, action: &str) -> Vec<&'a Value> {
    statements(doc)
        .into_iter()
        .filter(|s| effect_is(s, "Allow") && names_service(s, service) && covers(s, action))
        .collect()
}

/// The deny statements that may stop `service` calling `action` (whatever their conditions:
/// a condition is the author's to choose, so a new one is judged by a person).
pub fn denials<'a>(doc: &'a Value, service: &str, action: &str) -> Vec<&'a Value> {
    statements(doc)
        .into_iter()
        .filter(|s| {
            effect_is(s, "Deny")
                && (names_service(s, service) || s.get("NotPrincipal").is_some())
                && covers(s, action)
        })
        .collect()
}

/// How `live` lets `service` call `action` less than `baseline` did: a grant gone, or a deny
/// added. `what` names the policy for a person ("bucket policy of audit-logs").
pub fn narrower(
    live: Option<&Value>,
    baseline: Option<&Value>,
    service: &str,
    action: &str,
    what: &str,
) -> Vec<String> {
    let Some(baseline) = baseline else {
        return Vec::new();
    };
    let Some(live) = live else {
        return if grants(baseline, service, action).is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{what} deleted: {service} may no longer call {action}"
            )]
        };
    };
    let mut found = Vec::new();
    let kept = grants(live, service, action);
    let lost = grants(baseline, service, action)
        .into_iter()
        .filter(|g| !kept.contains(g))
        .count();
    if lost > 0 {
        found.push(format!(
            "{what}: {lost} statement(s) that let {service} call {action} removed or changed"
        ));
    }
    let before = denials(baseline, service, action);
    let added = denials(live, service, action)
        .into_iter()
        .filter(|d| !before.contains(d))
        .count();
    if added > 0 {
        found.push(format!(
            "{what}: {added} new deny statement(s) that may stop {service} calling {action}"
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bucket_policy(extra: Vec<Value>) -> Value {
        let mut statements = vec![
            json!({"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::audit/AWSLogs/1/*"}),
            json!({"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        ];
        statements.extend(extra);
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(matches("s3:*", "s3:PutObject"));
        assert!(matches("S3:put*", "s3:PutObject"));
        assert!(matches("kms:GenerateDataKey*", "kms:GenerateDataKey"));
        assert!(matches("*", "s3:PutObject"));
        assert!(!matches("s3:Get*", "s3:PutObject"));
        assert!(matches("s3:PutObjec?", "s3:PutObject"));
        assert!(!matches("s3:PutObject?", "s3:PutObject"));
        assert!(matches("s3:*Object*", "s3:PutObject"));
        let stars = format!("s3:{}GetObject", "*".repeat(200));
        assert!(
            !matches(&stars, "s3:PutObjectAclAndMoreAndMoreAndMore"),
            "and at once"
        );
    }

    #[test]
    fn a_removed_grant_or_a_new_deny_is_narrower_and_an_old_deny_is_not() {
        let base = bucket_policy(vec![]);
        let narrower_of = |live: &Value| {
            narrower(
                Some(live),
                Some(&base),
                CLOUDTRAIL,
                "s3:PutObject",
                "policy",
            )
        };
        assert!(
            narrower_of(&base).is_empty(),
            "the TLS deny was always there"
        );
        let denied = bucket_policy(vec![json!({"Effect": "Deny",
            "Principal": {"Service": ["cloudtrail.amazonaws.com"]}, "Action": ["s3:Put*"], "Resource": "*"})]);
        assert_eq!(narrower_of(&denied).len(), 1);
        let mut no_grant = base.clone();
        no_grant["Statement"].as_array_mut().unwrap().remove(0);
        assert!(narrower_of(&no_grant)[0].contains("removed or changed"));
        let reader = bucket_policy(vec![json!({"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:role/auditor"}, "Action": "s3:GetObject", "Resource": "*"})]);
        assert!(
            narrower_of(&reader).is_empty(),
            "another grant is not a weakening"
        );
        assert_eq!(
            narrower(None, Some(&base), CLOUDTRAIL, "s3:PutObject", "policy").len(),
            1
        );
        assert!(narrower(Some(&denied), None, CLOUDTRAIL, "s3:PutObject", "policy").is_empty());
    }

    #[test]
    fn not_action_and_not_principal_denies_count() {
        let live = bucket_policy(vec![
            json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
            "NotAction": "s3:GetObject", "Resource": "*"}),
        ]);
        // The deny of plain HTTP, and the new one.
        assert_eq!(denials(&live, CLOUDTRAIL, "s3:PutObject").len(), 2);
    }
}
