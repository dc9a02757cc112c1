//! Who is behind a role session. Denying a role's sessions leaves whoever can assume the role
//! free to take a new one, so the principal that assumed it is disabled too. It is learned
//! only from CloudTrail's own record of the `AssumeRole` call that issued the session's
//! access key, never from the session name or `sourceIdentity`: the assumer chooses those,
//! and trusting them would let an attacker get a colleague disabled.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde::Serialize;
use serde_json::Value;
use tourniquet::errors::sdk_message;

mod disabler;

/// How far around the session's creation the `AssumeRole` record is looked for.
const AROUND_SECS: i64 = 300;
/// Pages of `AssumeRole` events read at most (LookupEvents allows 2 requests a second).
const PAGES: usize = 5;

/// The principal behind a session, as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Assumer {
    /// An IAM user of the session's account: disabled with the session's role.
    User { arn: String, name: String },
    /// An AWS service (Lambda, EC2) that assumes the role for its workload: nothing upstream
    /// to disable; the role's sessions are denied.
    Service(String),
    /// Not found, or not something this function disables: what is known, for a person.
    Unknown(String),
}

/// The principal behind a role session, as this function will treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Upstream {
    /// An IAM user of the account, with its keys active now: disabled with the role.
    User {
        arn: String,
        name: String,
        active_keys: Vec<String>,
    },
    /// An AWS service, for its own workload: nothing upstream to disable.
    Service(String),
    /// Not found, not a user of the account, or protected: a person must look.
    Unknown(String),
}

/// The principal whose `AssumeRole` call issued `access_key_id` around `created`.
pub async fn assumer(ct: &Client, access_key_id: &str, created: &str, account: &str) -> Assumer {
    match find(ct, access_key_id, created).await {
        Ok(Some(identity)) => classify(&identity, account),
        Ok(None) => Assumer::Unknown(format!(
            "no AssumeRole record issued access key {access_key_id} around {created} \
             (CloudTrail's event history in this region; records can take minutes to appear)"
        )),
        Err(e) => Assumer::Unknown(format!("CloudTrail's event history could not be read: {e}")),
    }
}

/// What the record's `userIdentity` says.
pub fn classify(identity: &Value, account: &str) -> Assumer {
    let kind = identity["type"].as_str().unwrap_or("unknown");
    let arn = identity["arn"].as_str().unwrap_or("no ARN");
    match (
        kind,
        identity["userName"].as_str(),
        identity["accountId"].as_str(),
    ) {
        ("IAMUser", Some(name), Some(owner)) if owner == account => Assumer::User {
            arn: arn.to_owned(),
            name: name.to_owned(),
        },
        ("IAMUser", _, owner) => Assumer::Unknown(format!(
            "assumed by IAM user {arn} of account {}",
            owner.unwrap_or("unknown")
        )),
        ("AWSService", _, _) => Assumer::Service(
            identity["invokedBy"]
                .as_str()
                .unwrap_or("an AWS service")
                .to_owned(),
        ),
        _ => Assumer::Unknown(format!("assumed by a {kind} identity, {arn}")),
    }
}

/// The `userIdentity` of the `AssumeRole` record that issued the key, if one is found.
async fn find(ct: &Client, access_key_id: &str, created: &str) -> Result<Option<Value>, String> {
    let at = DateTime::from_str(created, DateTimeFormat::DateTime)
        .map_err(|e| format!("creation date {created:?}: {e}"))?;
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value("AssumeRole")
        .build()
        .map_err(|e| e.to_string())?;
    let mut token: Option<String> = None;
    for _ in 0..PAGES {
        let out = ct
            .lookup_events()
            .lookup_attributes(attribute.clone())
            .start_time(DateTime::from_secs(at.secs() - AROUND_SECS))
            .end_time(DateTime::from_secs(at.secs() + AROUND_SECS))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("LookupEvents: {}", sdk_message(&e)))?;
        let found = out.events().iter().find_map(|e| {
            let record: Value = serde_json::from_str(e.cloud_trail_event()?).ok()?;
            let issued = record["responseElements"]["credentials"]["accessKeyId"].as_str()?;
            (issued == access_key_id).then(|| record["userIdentity"].clone())
        });
        if found.is_some() {
            return Ok(found);
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_user_of_the_account_is_disabled() {
        let user = json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob", "userName": "bob", "accountId": "1"});
        assert_eq!(
            classify(&user, "1"),
            Assumer::User {
                arn: "arn:aws:iam::1:user/bob".into(),
                name: "bob".into()
            }
        );
        assert!(matches!(classify(&user, "2"), Assumer::Unknown(w) if w.contains("account 1")));
        let chained = json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/ci/x"});
        assert!(
            matches!(classify(&chained, "1"), Assumer::Unknown(w) if w.contains("AssumedRole identity"))
        );
        let service = json!({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"});
        assert_eq!(
            classify(&service, "1"),
            Assumer::Service("lambda.amazonaws.com".into())
        );
    }
}
