//! Decoding of what invokes a function: EventBridge envelopes (CloudTrail API calls, tag
//! changes, scheduled events) and direct invocations.
//!
//! Decoding never panics and never guesses: every field is checked for presence and type,
//! every list for length, and the error names the field by its path, so that the log line of
//! a rejected event says exactly what was wrong with it.

mod fields;
mod principal;

use fields::kind;
pub use fields::{EventError, Fields, MAX_ITEMS, fields};
pub use principal::Principal;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The EventBridge envelope, common to every event EventBridge delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// EventBridge's event id: stable across redeliveries, the dedupe key.
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub time: String,
    pub resources: Vec<String>,
}

/// A CloudTrail-recorded API call (`AWS API Call via CloudTrail`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiCall {
    pub event_name: String,
    pub event_source: String,
    /// The region the call was made in (`awsRegion`).
    pub region: String,
    pub principal: Principal,
    /// Set when the call failed: the event describes something that did not happen.
    pub error_code: Option<String>,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub source_ip: Option<String>,
}

/// A `Tag Change on Resource` event from `aws.tag`. It carries no actor, and it keeps
/// flowing when CloudTrail has been stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagChange {
    pub service: String,
    pub resource_type: String,
    pub changed_tag_keys: Vec<String>,
    /// The resource's tags after the change.
    pub tags: BTreeMap<String, String>,
}

/// A GuardDuty finding, as EventBridge delivers it (`source: aws.guardduty`). GuardDuty sends
/// a finding again each time it is updated, under a new event id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub finding_type: String,
    pub severity: f64,
    pub title: String,
    /// `detail.resource.resourceType`: `Instance`, `AccessKey`, `S3Bucket`, ...
    pub resource_type: String,
    /// `detail.resource.instanceDetails.instanceId`, for a finding about an instance.
    pub instance_id: Option<String>,
    /// A sample finding (`detail.service.additionalInfo.sample`), made on request to try
    /// integrations: never acted on.
    pub sample: bool,
    /// The account and region of the resource (`detail.accountId`, `detail.region`): a
    /// delegated administrator receives its members' findings in its own account.
    pub account: Option<String>,
    pub region: Option<String>,
    /// The detector that reported it (`detail.service.detectorId`): GuardDuty is asked there
    /// whether the finding is real.
    pub detector_id: Option<String>,
}

/// A direct invocation by an operator or a test: `{"instance_ids": [...], "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectInvocation {
    pub instance_ids: Vec<String>,
    pub reason: Option<String>,
}

/// Everything a function can be invoked with.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    ApiCall(Envelope, ApiCall),
    TagChange(Envelope, TagChange),
    Scheduled(Envelope),
    Direct(DirectInvocation),
    Finding(Envelope, Finding),
    /// The periodic sweep of open incidents whose invocation died (`{"tourniquet": "sweep"}`,
    /// the constant input of a schedule).
    Sweep,
}

pub const API_CALL: &str = "AWS API Call via CloudTrail";
pub const TAG_CHANGE: &str = "Tag Change on Resource";
pub const SCHEDULED: &str = "Scheduled Event";
pub const GUARDDUTY_FINDING: &str = "GuardDuty Finding";

impl Trigger {
    /// Who made the call, for a CloudTrail record: the actor an offense is counted on.
    pub fn actor(&self) -> Option<&Principal> {
        match self {
            Self::ApiCall(_, call) => Some(&call.principal),
            _ => None,
        }
    }

    pub fn envelope(&self) -> Option<&Envelope> {
        match self {
            Self::ApiCall(e, _)
            | Self::TagChange(e, _)
            | Self::Scheduled(e)
            | Self::Finding(e, _) => Some(e),
            Self::Direct(_) | Self::Sweep => None,
        }
    }

    /// The id that makes a redelivery recognisable: EventBridge's event id, or for a direct
    /// invocation Lambda's request id (the same across Lambda's own retries).
    pub fn delivery_id(&self, request_id: &str) -> String {
        match self.envelope() {
            Some(e) => e.id.clone(),
            None => format!("request-{request_id}"),
        }
    }

    /// A short description of the trigger, for people.
    pub fn describe(&self) -> String {
        match self {
            Self::ApiCall(_, c) => format!(
                "{} by {}{}",
                c.event_name,
                c.principal.display_arn(),
                c.error_code
                    .as_deref()
                    .map(|e| format!(" (failed: {e})"))
                    .unwrap_or_default()
            ),
            Self::TagChange(_, t) => {
                format!(
                    "tag change ({}) on {}",
                    t.changed_tag_keys.join(", "),
                    t.resource_type
                )
            }
            Self::Scheduled(_) => "scheduled audit".to_owned(),
            Self::Finding(_, f) => format!(
                "GuardDuty finding {} (severity {}) {}",
                f.finding_type, f.severity, f.id
            ),
            Self::Sweep => "periodic sweep of abandoned incidents".to_owned(),
            Self::Direct(d) => format!(
                "direct invocation{}",
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// Decodes any input a function can receive.
pub fn decode(input: &Value) -> Result<Trigger, EventError> {
    let top = match input {
        Value::Object(_) => fields("", input)?,
        other => return Err(EventError::NotAnObject(kind(other))),
    };
    if top.opt_value("detail-type").is_some() {
        decode_eventbridge(top)
    } else if top.opt_value("instance_ids").is_some() {
        decode_direct(top)
    } else if let Some(command) = top.opt_str("tourniquet")? {
        match command {
            "sweep" => Ok(Trigger::Sweep),
            other => Err(EventError::Invalid {
                field: "tourniquet".to_owned(),
                reason: format!("{other:?} is not a command (only \"sweep\")"),
            }),
        }
    } else {
        Err(EventError::Unrecognised)
    }
}

fn decode_finding(detail: Fields<'_>) -> Result<Finding, EventError> {
    let resource = detail.obj("resource", "detail.resource")?;
    let instance_id =
        match resource.opt_obj("instanceDetails", "detail.resource.instanceDetails")? {
            Some(d) => d.opt_str("instanceId")?.map(str::to_owned),
            None => None,
        };
    let severity = detail.value("severity")?;
    let severity = severity
        .as_f64()
        .filter(|s| (0.0..=10.0).contains(s))
        .ok_or_else(|| EventError::Invalid {
            field: "detail.severity".to_owned(),
            reason: format!("{severity} is not a severity from 0 to 10"),
        })?;
    let service = detail.opt_obj("service", "detail.service")?;
    let info = match service {
        Some(service) => service.opt_obj("additionalInfo", "detail.service.additionalInfo")?,
        None => None,
    };
    let detector_id = match service {
        Some(service) => service.opt_str("detectorId")?.map(str::to_owned),
        None => None,
    };
    // GuardDuty writes the flag as a boolean; a string "true" is read the same way.
    let sample = match info.and_then(|i| i.opt_value("sample")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(other) => {
            return Err(EventError::WrongType {
                field: "detail.service.additionalInfo.sample".to_owned(),
                expected: "a boolean",
                found: kind(other),
            });
        }
    };
    Ok(Finding {
        id: detail.str("id")?.to_owned(),
        finding_type: detail.str("type")?.to_owned(),
        severity,
        title: detail.opt_str("title")?.unwrap_or_default().to_owned(),
        resource_type: resource.str("resourceType")?.to_owned(),
        instance_id,
        sample,
        account: detail.opt_str("accountId")?.map(str::to_owned),
        region: detail.opt_str("region")?.map(str::to_owned),
        detector_id,
    })
}

fn decode_direct(top: Fields<'_>) -> Result<Trigger, EventError> {
    let instance_ids = top.str_list("instance_ids")?;
    if instance_ids.is_empty() {
        return Err(EventError::Invalid {
            field: "instance_ids".to_owned(),
            reason: "must name at least one instance".to_owned(),
        });
    }
    Ok(Trigger::Direct(DirectInvocation {
        instance_ids,
        reason: top.opt_str("reason")?.map(str::to_owned),
    }))
}

fn decode_eventbridge(top: Fields<'_>) -> Result<Trigger, EventError> {
    let envelope = Envelope {
        id: top.str("id")?.to_owned(),
        detail_type: top.str("detail-type")?.to_owned(),
        source: top.str("source")?.to_owned(),
        account: top.str("account")?.to_owned(),
        region: top.str("region")?.to_owned(),
        time: top.str("time")?.to_owned(),
        resources: top.str_list("resources")?,
    };
    match envelope.detail_type.as_str() {
        API_CALL => {
            let detail = top.obj("detail", "detail")?;
            let call = decode_api_call(detail)?;
            Ok(Trigger::ApiCall(envelope, call))
        }
        // Whether the source may send it is `trust::admit`'s question, asked of every event.
        TAG_CHANGE => {
            let detail = top.obj("detail", "detail")?;
            let tags = match detail.opt_obj("tags", "detail.tags")? {
                Some(t) => t.string_map()?,
                None => BTreeMap::new(),
            };
            let change = TagChange {
                service: detail.str("service")?.to_owned(),
                resource_type: detail.str("resource-type")?.to_owned(),
                changed_tag_keys: detail.str_list("changed-tag-keys")?,
                tags,
            };
            Ok(Trigger::TagChange(envelope, change))
        }
        SCHEDULED => Ok(Trigger::Scheduled(envelope)),
        GUARDDUTY_FINDING => {
            let finding = decode_finding(top.obj("detail", "detail")?)?;
            Ok(Trigger::Finding(envelope, finding))
        }
        other => Err(EventError::UnsupportedDetailType(other.to_owned())),
    }
}

fn decode_api_call(detail: Fields<'_>) -> Result<ApiCall, EventError> {
    let identity = detail.obj("userIdentity", "detail.userIdentity")?;
    let params = |key: &str| match detail.opt_value(key) {
        None => Ok(Value::Null),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(v) => Err(EventError::WrongType {
            field: format!("detail.{key}"),
            expected: "an object",
            found: kind(v),
        }),
    };
    Ok(ApiCall {
        event_name: detail.str("eventName")?.to_owned(),
        event_source: detail.str("eventSource")?.to_owned(),
        region: detail.str("awsRegion")?.to_owned(),
        principal: Principal::decode(identity)?,
        error_code: detail.opt_str("errorCode")?.map(str::to_owned),
        request_parameters: params("requestParameters")?,
        response_elements: params("responseElements")?,
        source_ip: detail.opt_str("sourceIPAddress")?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api_call(identity: Value) -> Value {
        json!({
            "version": "0", "id": "ev-1", "detail-type": API_CALL, "source": "aws.ec2",
            "account": "123456789012", "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventName": "CreateTags", "eventSource": "ec2.amazonaws.com",
                "awsRegion": "us-east-1", "userIdentity": identity,
                "requestParameters": {"resourcesSet": {"items": [{"resourceId": "i-1"}]}},
                "sourceIPAddress": "203.0.113.9"
            }
        })
    }

    #[test]
    fn decodes_every_identity_type() {
        let cases = [
            (
                json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice", "userName": "alice", "accountId": "1", "accessKeyId": "AKIA1"}),
                "arn:aws:iam::1:user/alice",
            ),
            (
                json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s", "principalId": "AROA1:s", "accountId": "1",
                       "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/p/R", "userName": "R"}}}),
                "arn:aws:sts::1:assumed-role/R/s",
            ),
            (
                json!({"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1", "principalId": "1"}),
                "arn:aws:iam::1:root",
            ),
            (
                json!({"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob", "principalId": "1:bob", "accountId": "1",
                       "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice"}}}),
                "arn:aws:sts::1:federated-user/bob",
            ),
            (
                json!({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}),
                "cloudtrail.amazonaws.com",
            ),
            (
                json!({"type": "AWSAccount", "principalId": "x"}),
                "AWSAccount",
            ),
        ];
        for (identity, name) in cases {
            let Trigger::ApiCall(env, call) = decode(&api_call(identity)).unwrap() else {
                panic!("not an api call")
            };
            assert_eq!(env.id, "ev-1");
            assert_eq!(call.principal.display_arn(), name);
            assert_eq!(call.event_name, "CreateTags");
            assert_eq!(call.error_code, None);
        }
        let Trigger::ApiCall(_, call) = decode(&api_call(
            json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s",
            "principalId": "AROA1:s", "accountId": "1",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/p/R"}}}),
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            call.principal.arns(),
            vec!["arn:aws:sts::1:assumed-role/R/s", "arn:aws:iam::1:role/p/R"]
        );
    }

    #[test]
    fn error_code_is_kept() {
        let mut v =
            api_call(json!({"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1"}));
        v["detail"]["errorCode"] = json!("Client.UnauthorizedOperation");
        let Trigger::ApiCall(_, call) = decode(&v).unwrap() else {
            panic!()
        };
        assert_eq!(
            call.error_code.as_deref(),
            Some("Client.UnauthorizedOperation")
        );
    }

    #[test]
    fn decodes_the_sweep_and_rejects_other_commands() {
        assert_eq!(
            decode(&json!({"tourniquet": "sweep"})).unwrap(),
            Trigger::Sweep
        );
        let err = decode(&json!({"tourniquet": "open-everything"})).unwrap_err();
        assert!(err.to_string().contains("tourniquet"), "{err}");
        assert!(decode(&json!({"tourniquet": 1})).is_err());
    }

    #[test]
    fn decodes_tag_change_scheduled_and_direct() {
        let tag = json!({"version": "0", "id": "t-1", "detail-type": TAG_CHANGE, "source": "aws.tag", "account": "1",
            "time": "2026-11-23T02:00:00Z", "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:1:instance/i-1"],
            "detail": {"changed-tag-keys": ["Tainted"], "service": "ec2", "resource-type": "instance", "version": 3,
                       "tags": {"Tainted": "ssh", "Name": "web"}}});
        let Trigger::TagChange(env, change) = decode(&tag).unwrap() else {
            panic!()
        };
        assert_eq!(env.resources, vec!["arn:aws:ec2:us-east-1:1:instance/i-1"]);
        assert_eq!(change.tags.get("Tainted").map(String::as_str), Some("ssh"));

        let sched = json!({"version": "0", "id": "s-1", "detail-type": SCHEDULED, "source": "aws.events", "account": "1",
            "time": "2026-11-23T02:00:00Z", "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:1:rule/audit"], "detail": {}});
        assert!(matches!(decode(&sched).unwrap(), Trigger::Scheduled(_)));

        let direct = json!({"instance_ids": ["i-0123456789abcdef0"], "reason": "drill"});
        let t = decode(&direct).unwrap();
        assert_eq!(t.delivery_id("req-9"), "request-req-9");
        assert_eq!(t.describe(), "direct invocation: drill");
    }

    #[test]
    fn malformed_input_is_a_clear_error() {
        let ok = api_call(json!({"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1"}));
        let mut missing_detail = ok.clone();
        missing_detail.as_object_mut().unwrap().remove("detail");
        let mut wrong_type = ok.clone();
        wrong_type["detail"]["eventName"] = json!(42);
        let mut wrong_identity = ok.clone();
        wrong_identity["detail"]["userIdentity"] = json!("root");
        let mut bad_params = ok.clone();
        bad_params["detail"]["requestParameters"] = json!([1]);
        let mut wrong_detail_type = ok.clone();
        wrong_detail_type["detail-type"] = json!("EC2 Instance State-change Notification");
        let cases: Vec<(Value, EventError)> = vec![
            (json!(null), EventError::NotAnObject("null")),
            (json!("hello"), EventError::NotAnObject("a string")),
            (json!([1, 2]), EventError::NotAnObject("an array")),
            (json!({}), EventError::Unrecognised),
            (missing_detail, EventError::Missing("detail".into())),
            (
                wrong_type,
                EventError::WrongType {
                    field: "detail.eventName".into(),
                    expected: "a string",
                    found: "a number",
                },
            ),
            (
                wrong_identity,
                EventError::WrongType {
                    field: "detail.userIdentity".into(),
                    expected: "an object",
                    found: "a string",
                },
            ),
            (
                bad_params,
                EventError::WrongType {
                    field: "detail.requestParameters".into(),
                    expected: "an object",
                    found: "an array",
                },
            ),
            (
                wrong_detail_type,
                EventError::UnsupportedDetailType("EC2 Instance State-change Notification".into()),
            ),
            (
                json!({"instance_ids": []}),
                EventError::Invalid {
                    field: "instance_ids".into(),
                    reason: "must name at least one instance".into(),
                },
            ),
            (
                json!({"instance_ids": "i-1"}),
                EventError::WrongType {
                    field: "instance_ids".into(),
                    expected: "an array",
                    found: "a string",
                },
            ),
            (
                json!({"instance_ids": ["i-1", 7]}),
                EventError::WrongType {
                    field: "instance_ids[1]".into(),
                    expected: "a string",
                    found: "a number",
                },
            ),
            (
                json!({"instance_ids": vec!["i-1"; MAX_ITEMS + 1]}),
                EventError::TooMany {
                    field: "instance_ids".into(),
                    count: MAX_ITEMS + 1,
                    max: MAX_ITEMS,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(&input).unwrap_err(), expected, "input: {input}");
        }
        let mut tag_from_elsewhere = json!({"id": "x", "detail-type": TAG_CHANGE, "source": "aws.tag", "account": "1",
            "time": "t", "region": "r", "detail": {}});
        tag_from_elsewhere["detail"] =
            json!({"service": "ec2", "resource-type": "instance", "tags": {"a": 1}});
        assert_eq!(
            decode(&tag_from_elsewhere).unwrap_err(),
            EventError::WrongType {
                field: "detail.tags.a".into(),
                expected: "a string",
                found: "a number"
            }
        );
    }
}
