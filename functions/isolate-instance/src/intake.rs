//! Which instances an event asks to isolate. Pure: no AWS call.

use tourniquet::events::{ApiCall, EventError, Fields, Finding, TagChange, fields};

use crate::config::IsolateConfig;
use tourniquet::{Case, Intake, Trigger};

pub use tourniquet::arn::is_instance_id;

fn cases(mut ids: Vec<String>, field: &str) -> Result<Intake<()>, EventError> {
    if let Some(bad) = ids.iter().find(|id| !is_instance_id(id)) {
        return Err(EventError::Invalid {
            field: field.to_owned(),
            reason: format!("{bad:?} is not an EC2 instance id"),
        });
    }
    ids.sort();
    ids.dedup();
    Ok(Intake::Cases(
        ids.into_iter()
            .map(|resource| Case {
                resource,
                target: (),
            })
            .collect(),
    ))
}

/// The `items` of a CloudTrail set (`{"items": [{...}, ...]}`), each item an object.
fn set_items<'a>(
    params: Fields<'a>,
    key: &str,
    path: &'a str,
) -> Result<Vec<Fields<'a>>, EventError> {
    let Some(set) = params.opt_obj(key, path)? else {
        return Ok(Vec::new());
    };
    set.opt_array("items")?
        .iter()
        .map(|item| fields(path, item))
        .collect()
}

/// Whether the call removed the taint: a `DeleteTags` naming the key, or naming no key at all
/// (which deletes every tag of the resources).
pub fn removes_taint(call: &ApiCall, taint_key: &str) -> Result<bool, EventError> {
    if call.event_name != "DeleteTags" || call.error_code.is_some() {
        return Ok(false);
    }
    let params = fields("detail.requestParameters", &call.request_parameters)?;
    let keys = set_items(params, "tagSet", "detail.requestParameters.tagSet.items[]")?;
    if keys.is_empty() {
        return Ok(true);
    }
    for tag in keys {
        if tag.str("key")? == taint_key {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A `CreateTags` that sets the taint asks to isolate; a `DeleteTags` that removes it is
/// checked, so that a taint removed before isolation is told with who removed it.
fn from_tag_call(call: &ApiCall, taint_key: &str) -> Result<Intake<()>, EventError> {
    let verb = match call.event_name.as_str() {
        "CreateTags" => "tagged",
        "DeleteTags" => "untagged",
        other => {
            return Ok(Intake::Ignore(format!(
                "{other} is neither CreateTags nor DeleteTags"
            )));
        }
    };
    if let Some(code) = &call.error_code {
        return Ok(Intake::Ignore(format!(
            "the {} call failed ({code}): nothing was {verb}",
            call.event_name
        )));
    }
    let params = fields("detail.requestParameters", &call.request_parameters)?;
    let concerned = if verb == "tagged" {
        let mut tainted = false;
        for tag in set_items(params, "tagSet", "detail.requestParameters.tagSet.items[]")? {
            tainted |= tag.str("key")? == taint_key;
        }
        tainted
    } else {
        removes_taint(call, taint_key)?
    };
    if !concerned {
        return Ok(Intake::Ignore(format!(
            "the tags {verb} do not include {taint_key}"
        )));
    }
    let mut ids = Vec::new();
    for resource in set_items(
        params,
        "resourcesSet",
        "detail.requestParameters.resourcesSet.items[]",
    )? {
        let id = resource.str("resourceId")?;
        if id.starts_with("i-") {
            ids.push(id.to_owned());
        }
    }
    if ids.is_empty() {
        return Ok(Intake::Ignore(format!(
            "no instance among the {verb} resources"
        )));
    }
    cases(ids, "detail.requestParameters.resourcesSet")
}

fn from_tag_change(
    resources: &[String],
    change: &TagChange,
    taint_key: &str,
) -> Result<Intake<()>, EventError> {
    if change.service != "ec2" || change.resource_type != "instance" {
        return Ok(Intake::Ignore(format!(
            "a tag change on {} {}, not an instance",
            change.service, change.resource_type
        )));
    }
    if !change.changed_tag_keys.iter().any(|k| k == taint_key) {
        return Ok(Intake::Ignore(format!("{taint_key} did not change")));
    }
    if !change.tags.contains_key(taint_key) {
        return Ok(Intake::Ignore(format!(
            "{taint_key} was removed, not added"
        )));
    }
    let ids = resources
        .iter()
        .map(|arn| {
            arn.rsplit_once(":instance/")
                .map(|(_, id)| id.to_owned())
                .ok_or_else(|| EventError::Invalid {
                    field: "resources".into(),
                    reason: format!("{arn:?} is not an EC2 instance ARN"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(EventError::Missing("resources".into()));
    }
    cases(ids, "resources")
}

/// A GuardDuty finding isolates its instance when it is real, severe enough and of a type
/// that isolates.
fn from_finding(f: &Finding, config: &IsolateConfig) -> Result<Intake<()>, EventError> {
    let ignore = |why: String| Ok(Intake::Ignore(format!("GuardDuty finding {}: {why}", f.id)));
    if f.sample {
        return ignore("a sample finding, never acted on".into());
    }
    if f.resource_type != "Instance" {
        return ignore(format!("about {}, not an instance", f.resource_type));
    }
    if f.severity < config.guardduty_min_severity {
        return ignore(format!(
            "severity {} is below {}",
            f.severity, config.guardduty_min_severity
        ));
    }
    let types = &config.guardduty_types;
    if !types.is_empty() && !types.iter().any(|p| f.finding_type.starts_with(p.as_str())) {
        return ignore(format!(
            "type {} is not among {}",
            f.finding_type,
            types.join(", ")
        ));
    }
    let id = f
        .instance_id
        .clone()
        .ok_or_else(|| EventError::Missing("detail.resource.instanceDetails.instanceId".into()))?;
    cases(vec![id], "detail.resource.instanceDetails.instanceId")
}

/// The instances an event asks to isolate.
pub fn intake(trigger: &Trigger, config: &IsolateConfig) -> Result<Intake<()>, EventError> {
    let taint_key = config.taint_key.as_str();
    match trigger {
        Trigger::Finding(_, finding) => from_finding(finding, config),
        Trigger::ApiCall(_, call) => from_tag_call(call, taint_key),
        Trigger::TagChange(envelope, change) => {
            from_tag_change(&envelope.resources, change, taint_key)
        }
        Trigger::Direct(direct) => cases(direct.instance_ids.clone(), "instance_ids"),
        Trigger::Scheduled(_) | Trigger::Sweep => Ok(Intake::Ignore(
            "isolate-instance has no scheduled work of its own".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tourniquet::events::decode;

    const A: &str = "i-0123456789abcdef0";
    const B: &str = "i-0fedcba9876543210";

    fn create_tags(resources: &[&str], keys: &[&str], error: Option<&str>) -> Value {
        let mut v = json!({
            "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
            "account": "1", "time": "t", "region": "us-east-1", "resources": [],
            "detail": {"eventName": "CreateTags", "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1",
                "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1"},
                "requestParameters": {
                    "resourcesSet": {"items": resources.iter().map(|r| json!({"resourceId": r})).collect::<Vec<_>>()},
                    "tagSet": {"items": keys.iter().map(|k| json!({"key": k, "value": "x"})).collect::<Vec<_>>()}}}
        });
        if let Some(code) = error {
            v["detail"]["errorCode"] = json!(code);
        }
        v
    }

    fn ids(intake: Intake<()>) -> Vec<String> {
        match intake {
            Intake::Cases(c) | Intake::Some { cases: c, .. } => {
                c.into_iter().map(|c| c.resource).collect()
            }
            Intake::Ignore(r) => panic!("ignored: {r}"),
        }
    }

    fn config(pairs: &[(&str, &str)]) -> IsolateConfig {
        IsolateConfig::from_env(&tourniquet::Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn run(v: &Value) -> Result<Intake<()>, EventError> {
        intake(&decode(v).unwrap(), &config(&[]))
    }

    fn finding(severity: Value, finding_type: &str, sample: Value) -> Value {
        json!({"version": "0", "id": "g", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": "1", "time": "t", "region": "us-east-1", "resources": [],
            "detail": {"id": "f1", "type": finding_type, "severity": severity, "title": "x",
                "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": A}},
                "service": {"additionalInfo": {"sample": sample}}}})
    }

    #[test]
    fn a_delete_tags_that_removes_the_taint_is_a_case() {
        let untag = |keys: &[&str]| {
            let mut v = create_tags(&[A, "vol-1"], keys, None);
            v["detail"]["eventName"] = json!("DeleteTags");
            v
        };
        assert_eq!(ids(run(&untag(&["Tainted"])).unwrap()), vec![A]);
        // No key named: every tag of the resources is deleted, the taint with them.
        assert_eq!(ids(run(&untag(&[])).unwrap()), vec![A]);
        assert!(
            matches!(run(&untag(&["Owner"])).unwrap(), Intake::Ignore(r) if r.contains("untagged"))
        );
        let mut failed = untag(&["Tainted"]);
        failed["detail"]["errorCode"] = json!("UnauthorizedOperation");
        assert!(
            matches!(run(&failed).unwrap(), Intake::Ignore(r) if r.contains("nothing was untagged"))
        );
    }

    #[test]
    fn a_severe_real_finding_isolates_its_instance() {
        let v = finding(json!(8), "Backdoor:EC2/C&CActivity.B!DNS", json!(false));
        assert_eq!(ids(run(&v).unwrap()), vec![A]);
        let v = finding(json!(7.0), "CryptoCurrency:EC2/BitcoinTool.B", Value::Null);
        assert_eq!(ids(run(&v).unwrap()), vec![A]);
    }

    #[test]
    fn samples_low_severities_and_other_types_are_ignored() {
        let ignored = |v: &Value, c: &IsolateConfig, why: &str| match intake(&decode(v).unwrap(), c)
        {
            Ok(Intake::Ignore(r)) => assert!(r.contains(why), "{r}"),
            other => panic!("{other:?}"),
        };
        let c = config(&[]);
        ignored(
            &finding(json!(8), "Backdoor:EC2/X", json!(true)),
            &c,
            "sample",
        );
        ignored(
            &finding(json!(8), "Backdoor:EC2/X", json!("true")),
            &c,
            "sample",
        );
        ignored(
            &finding(json!(6.9), "Backdoor:EC2/X", json!(false)),
            &c,
            "below 7",
        );
        let only = config(&[("GUARDDUTY_FINDING_TYPES", "CryptoCurrency:EC2/")]);
        ignored(
            &finding(json!(8), "Backdoor:EC2/X", json!(false)),
            &only,
            "not among",
        );
        let mut v = finding(json!(8), "Backdoor:EC2/X", json!(false));
        v["detail"]["resource"]["resourceType"] = json!("AccessKey");
        ignored(&v, &c, "not an instance");
    }

    #[test]
    fn a_malformed_finding_is_an_error() {
        let v = finding(json!("high"), "Backdoor:EC2/X", json!(false));
        assert!(
            decode(&v)
                .unwrap_err()
                .to_string()
                .contains("detail.severity")
        );
        let v = finding(json!(8), "Backdoor:EC2/X", json!(1));
        assert!(matches!(
            decode(&v).unwrap_err(),
            EventError::WrongType { .. }
        ));
        let mut v = finding(json!(8), "Backdoor:EC2/X", json!(false));
        v["detail"]["resource"]["instanceDetails"]["instanceId"] = json!("i-NOPE");
        assert!(
            run(&v)
                .unwrap_err()
                .to_string()
                .contains("not an EC2 instance id")
        );
        let mut v = finding(json!(8), "Backdoor:EC2/X", json!(false));
        v["source"] = json!("aws.ec2");
        let forged = decode(&v).unwrap();
        assert!(
            tourniquet::trust::admit(&forged, std::time::SystemTime::now()).is_err(),
            "a finding from another source is a forgery"
        );
    }

    #[test]
    fn instance_ids_are_validated() {
        assert!(is_instance_id(A));
        assert!(is_instance_id("i-0123abcd"));
        assert!(!is_instance_id("i-0123ABCD"));
        assert!(!is_instance_id("i-123"));
        assert!(!is_instance_id("vol-0123456789abcdef0"));
    }

    #[test]
    fn create_tags_keeps_only_instances_and_only_the_taint_key() {
        let v = create_tags(
            &[A, "vol-0123456789abcdef0", B, A, "sg-12345678"],
            &["Name", "Tainted"],
            None,
        );
        assert_eq!(ids(run(&v).unwrap()), vec![A, B]);
        let v = create_tags(&[A], &["Name"], None);
        assert!(matches!(run(&v).unwrap(), Intake::Ignore(_)));
        let v = create_tags(&["vol-0123456789abcdef0"], &["Tainted"], None);
        assert!(matches!(run(&v).unwrap(), Intake::Ignore(r) if r.contains("no instance")));
        let v = create_tags(&[A], &["Tainted"], Some("Client.UnauthorizedOperation"));
        assert!(matches!(run(&v).unwrap(), Intake::Ignore(r) if r.contains("failed")));
    }

    #[test]
    fn create_tags_with_bad_parameters_is_an_error() {
        let v = create_tags(&["i-NOTHEX!"], &["Tainted"], None);
        assert!(matches!(run(&v).unwrap_err(), EventError::Invalid { .. }));
        let mut v = create_tags(&[A], &["Tainted"], None);
        v["detail"]["requestParameters"]["resourcesSet"]["items"] = json!("i-1");
        assert!(matches!(run(&v).unwrap_err(), EventError::WrongType { .. }));
        let mut v = create_tags(&[A], &["Tainted"], None);
        v["detail"]["requestParameters"]["tagSet"]["items"][0] = json!({"value": "x"});
        assert!(matches!(run(&v).unwrap_err(), EventError::Missing(f) if f.ends_with(".key")));
    }

    fn tag_change(changed: &[&str], tags: Value, resource_type: &str) -> Value {
        json!({"version": "0", "id": "t", "detail-type": "Tag Change on Resource", "source": "aws.tag",
            "account": "1", "time": "t", "region": "us-east-1",
            "resources": [format!("arn:aws:ec2:us-east-1:1:{resource_type}/{A}")],
            "detail": {"changed-tag-keys": changed, "service": "ec2", "resource-type": resource_type, "tags": tags}})
    }

    #[test]
    fn tag_change_needs_the_taint_key_added_on_an_instance() {
        let v = tag_change(&["Tainted"], json!({"Tainted": "ssh"}), "instance");
        assert_eq!(ids(run(&v).unwrap()), vec![A]);
        let removed = tag_change(&["Tainted"], json!({}), "instance");
        assert!(matches!(run(&removed).unwrap(), Intake::Ignore(r) if r.contains("removed")));
        let other = tag_change(&["Name"], json!({"Tainted": "x", "Name": "y"}), "instance");
        assert!(matches!(run(&other).unwrap(), Intake::Ignore(_)));
        let volume = tag_change(&["Tainted"], json!({"Tainted": "x"}), "volume");
        assert!(matches!(run(&volume).unwrap(), Intake::Ignore(_)));
    }

    #[test]
    fn direct_invocation_validates_ids() {
        let v = json!({"instance_ids": [B, A], "reason": "drill"});
        assert_eq!(ids(run(&v).unwrap()), vec![A, B]);
        let v = json!({"instance_ids": ["web-1"]});
        assert!(
            run(&v)
                .unwrap_err()
                .to_string()
                .contains("\"web-1\" is not an EC2 instance id")
        );
    }
}
