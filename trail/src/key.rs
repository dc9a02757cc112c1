//! A trail's KMS key: enabled, not pending deletion, and letting CloudTrail encrypt. A
//! disabled key stops delivery at once; a deleted one makes every log file it encrypted
//! unreadable for good.

use aws_config::{Region, SdkConfig};
use aws_sdk_kms::Client;
use aws_sdk_kms::types::KeyState as SdkKeyState;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tourniquet::Step;
use tourniquet::errors::sdk_message;

use crate::policy::{self, CLOUDTRAIL};

/// What CloudTrail calls to encrypt a log file.
const ENCRYPT: &str = "kms:GenerateDataKey";
/// The only key policy name KMS has.
const POLICY_NAME: &str = "default";

/// A trail's key, as far as delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// As the trail names it (an ARN, usually).
    pub id: String,
    /// The key's own id, from `DescribeKey`: what the heal calls name. AWS takes an id or an
    /// ARN alike; the emulator fails `EnableKey` and `CancelKeyDeletion` by ARN.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
    #[serde(default)]
    pub policy: Option<Value>,
    /// What could not be read. Nothing is compared against a baseline that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// The region of a key ARN, if the trail names it by ARN.
fn region_of(id: &str) -> Option<&str> {
    id.strip_prefix("arn:")?.split(':').nth(2)
}

/// A client for the key's region (or the given one, for a bare key id).
pub fn client_for(sdk: &SdkConfig, home: &Client, id: &str) -> Client {
    match region_of(id) {
        Some(r) if Some(r) != home.config().region().map(|h| h.as_ref()) => {
            let conf = aws_sdk_kms::config::Builder::from(sdk)
                .region(Region::new(r.to_owned()))
                .build();
            Client::from_conf(conf)
        }
        _ => home.clone(),
    }
}

/// The key's state and policy, read at once. Failures are kept, never an error.
pub async fn read(kms: &Client, id: &str) -> KeyState {
    let (described, policy) = tokio::join!(
        kms.describe_key().key_id(id).send(),
        kms.get_key_policy()
            .key_id(id)
            .policy_name(POLICY_NAME)
            .send(),
    );
    let mut unreadable = Vec::new();
    let (key_id, state) = match described {
        Ok(out) => (
            out.key_metadata().map(|m| m.key_id().to_owned()),
            out.key_metadata()
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "unknown".to_owned()),
        ),
        Err(e) => {
            unreadable.push(format!("DescribeKey: {}", sdk_message(&e)));
            (None, "unknown".to_owned())
        }
    };
    let policy = match policy {
        Ok(out) => match out.policy().map(serde_json::from_str::<Value>) {
            Some(Ok(doc)) => Some(doc),
            Some(Err(e)) => {
                unreadable.push(format!("the key policy is not JSON: {e}"));
                None
            }
            None => None,
        },
        Err(e) => {
            unreadable.push(format!("GetKeyPolicy: {}", sdk_message(&e)));
            None
        }
    };
    KeyState {
        id: id.to_owned(),
        key_id,
        state,
        policy,
        unreadable: (!unreadable.is_empty()).then(|| unreadable.join("; ")),
    }
}

impl KeyState {
    fn enabled(&self) -> bool {
        self.state == SdkKeyState::Enabled.as_str()
    }

    fn policy_narrower(&self, baseline: &Self) -> Vec<String> {
        policy::narrower(
            self.policy.as_ref(),
            baseline.policy.as_ref(),
            CLOUDTRAIL,
            ENCRYPT,
            &format!("key policy of {}", self.id),
        )
    }

    /// How the key serves the trail less than its baseline did.
    pub fn narrower_than(&self, baseline: &Self) -> Vec<String> {
        if baseline.id != self.id || baseline.unreadable.is_some() {
            return Vec::new();
        }
        if let Some(e) = &self.unreadable {
            return vec![format!("KMS key {} cannot be read: {e}", self.id)];
        }
        let mut found = Vec::new();
        if baseline.enabled() && !self.enabled() {
            found.push(match self.state.as_str() {
                "PendingDeletion" => format!("KMS key {} scheduled for deletion", self.id),
                other => format!("KMS key {} is {other}", self.id),
            });
        }
        found.extend(self.policy_narrower(baseline));
        found
    }
}

/// Cancels a scheduled deletion, enables the key, and puts its policy back, as each is needed.
pub async fn heal(kms: &Client, live: &KeyState, baseline: &KeyState) -> Vec<Step> {
    if live.narrower_than(baseline).is_empty() {
        return Vec::new();
    }
    if let Some(e) = &live.unreadable {
        return vec![Step::critical(
            "kms-key",
            format!("KMS key {} cannot be read, so not healed: {e}", live.id),
        )];
    }
    let mut steps = Vec::new();
    let id = live.key_id.as_deref().unwrap_or(&live.id);
    if baseline.enabled() && !live.enabled() {
        if live.state == SdkKeyState::PendingDeletion.as_str() {
            let cancelled = kms.cancel_key_deletion().key_id(id).send().await;
            steps.push(match cancelled {
                Ok(_) => Step::ok(
                    "cancel-key-deletion",
                    format!("deletion of {} cancelled", live.id),
                ),
                Err(e) => Step::critical("cancel-key-deletion", sdk_message(&e)),
            });
        }
        let enabled = kms.enable_key().key_id(id).send().await;
        steps.push(match enabled {
            Ok(_) => Step::ok("enable-key", format!("{} enabled again", live.id)),
            Err(e) => Step::critical("enable-key", sdk_message(&e)),
        });
    }
    if !live.policy_narrower(baseline).is_empty() {
        steps.push(match &baseline.policy {
            Some(doc) => {
                let put = kms
                    .put_key_policy()
                    .key_id(id)
                    .policy_name(POLICY_NAME)
                    .policy(doc.to_string())
                    .send()
                    .await;
                match put {
                    Ok(_) => Step::ok("key-policy", format!("the policy of {} put back", live.id)),
                    Err(e) => Step::critical("key-policy", sdk_message(&e)),
                }
            }
            None => Step::critical("key-policy", "the baseline has no key policy to put back"),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(state: &str) -> KeyState {
        KeyState {
            id: "arn:aws:kms:us-east-1:1:key/k".into(),
            key_id: Some("k".into()),
            state: state.into(),
            policy: None,
            unreadable: None,
        }
    }

    #[test]
    fn a_key_not_enabled_is_weaker_and_its_region_is_its_arns() {
        assert!(key("Enabled").narrower_than(&key("Enabled")).is_empty());
        assert_eq!(
            key("PendingDeletion").narrower_than(&key("Enabled")),
            ["KMS key arn:aws:kms:us-east-1:1:key/k scheduled for deletion"]
        );
        assert_eq!(key("Disabled").narrower_than(&key("Enabled")).len(), 1);
        assert!(key("Enabled").narrower_than(&key("Disabled")).is_empty());
        assert_eq!(
            region_of("arn:aws:kms:eu-west-1:1:key/k"),
            Some("eu-west-1")
        );
        assert_eq!(region_of("1234abcd-12ab"), None);
    }
}
