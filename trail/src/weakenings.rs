//! How one CloudTrail, S3 or KMS call weakens a trail, judged from the call alone.

use serde_json::Value;

use crate::selectors::Selectors;
use crate::settings::SETTINGS;

/// How a CloudTrail API call weakens a trail, judged from the call alone by the same model
/// as [`weaknesses`]: turning coverage off, moving the logs, narrowing or excluding
/// management events. Empty for a call that only adds coverage, such as turning log file
/// validation on. disable-offender counts only calls with a weakening as offenses.
pub fn weakenings_of(event_name: &str, request: &Value) -> Vec<String> {
    match event_name {
        "StopLogging" => vec!["logging turned off".to_owned()],
        "DeleteTrail" => vec!["trail deleted".to_owned()],
        "UpdateTrail" => SETTINGS
            .iter()
            .filter_map(|s| s.weakening_of_call(request))
            .collect(),
        "PutEventSelectors" => match Selectors::from_request(request) {
            None => vec!["event selectors replaced with unreadable ones".to_owned()],
            // Judged against every management event: the call alone does not say what the
            // selectors were. Data events are not judged: adding or dropping them is the
            // owner's choice of cost, seen against the baseline by heal-cloudtrail.
            Some(selectors) => selectors.narrower_than(&Selectors::every_management_event()),
        },
        "DeleteBucket" => vec!["log bucket deleted".to_owned()],
        "DeleteBucketPolicy" => vec!["log bucket policy deleted".to_owned()],
        "PutBucketPolicy" => policy_weakens(request.get("bucketPolicy"), "s3:PutObject")
            .then(|| "log bucket policy no longer lets CloudTrail write".to_owned())
            .into_iter()
            .collect(),
        "PutKeyPolicy" => policy_weakens(request.get("policy"), "kms:GenerateDataKey")
            .then(|| "key policy no longer lets CloudTrail encrypt".to_owned())
            .into_iter()
            .collect(),
        "PutBucketVersioning" => {
            let status = request
                .get("VersioningConfiguration")
                .and_then(|v| v.get("Status"))
                .and_then(Value::as_str);
            (status != Some("Enabled"))
                .then(|| "log bucket versioning suspended".to_owned())
                .into_iter()
                .collect()
        }
        "PutBucketLifecycle" => vec!["log bucket lifecycle rules replaced".to_owned()],
        "PutObjectLockConfiguration" => {
            let rule = request
                .get("ObjectLockConfiguration")
                .and_then(|c| c.get("Rule"));
            rule.is_none()
                .then(|| "log bucket default retention removed".to_owned())
                .into_iter()
                .collect()
        }
        "DisableKey" => vec!["KMS key disabled".to_owned()],
        "ScheduleKeyDeletion" => vec!["KMS key scheduled for deletion".to_owned()],
        // Not a call on a trail's configuration: whoever listed it as an offense meant it.
        other => vec![other.to_owned()],
    }
}

/// Whether a policy a call puts (a JSON document, or its text) no longer lets CloudTrail
/// call `action`, or denies it: judged alone, without the policy it replaces.
fn policy_weakens(policy: Option<&Value>, action: &str) -> bool {
    let parsed = match policy {
        Some(Value::String(text)) => serde_json::from_str(text).ok(),
        Some(doc @ Value::Object(_)) => Some(doc.clone()),
        _ => None,
    };
    let Some(doc) = parsed else {
        return true;
    };
    crate::policy::grants(&doc, crate::policy::CLOUDTRAIL, action).is_empty()
        || crate::policy::denials(&doc, crate::policy::CLOUDTRAIL, action)
            .iter()
            .any(|d| d.get("Condition").is_none())
}
