//! Which events are believed. EventBridge reserves `aws.*` sources, not detail-types: anyone
//! with `events:PutEvents` on a bus can send a CloudTrail-shaped record, a tag change or a
//! finding under a source of their own. Only an event whose `source` is the AWS service that
//! emits it is acted on; any other is a forgery, reported and never counted.
//!
//! The sources are written out per service, from the EventBridge events reference ("AWS
//! service events delivered via AWS CloudTrail"), not derived from the event source: the
//! name is not always the service prefix (`monitoring.amazonaws.com` is CloudWatch).

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::json;

use crate::events::{API_CALL, GUARDDUTY_FINDING, SCHEDULED, TAG_CHANGE, Trigger};
use crate::notify::{Notification, Severity};

/// How far in the future an event's time may be: clocks drift, not by more than this.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The EventBridge sources of the CloudTrail records of each service Tourniquet reads.
/// CloudWatch's API calls were documented under `aws.cloudwatch` and now under
/// `aws.monitoring`; both are reserved to AWS, so either is believed.
const CLOUDTRAIL_SOURCES: &[(&str, &[&str])] = &[
    ("autoscaling.amazonaws.com", &["aws.autoscaling"]),
    ("cloudformation.amazonaws.com", &["aws.cloudformation"]),
    ("cloudtrail.amazonaws.com", &["aws.cloudtrail"]),
    ("dynamodb.amazonaws.com", &["aws.dynamodb"]),
    ("ec2.amazonaws.com", &["aws.ec2"]),
    (
        "elasticloadbalancing.amazonaws.com",
        &["aws.elasticloadbalancing"],
    ),
    ("events.amazonaws.com", &["aws.events"]),
    ("guardduty.amazonaws.com", &["aws.guardduty"]),
    ("iam.amazonaws.com", &["aws.iam"]),
    ("kms.amazonaws.com", &["aws.kms"]),
    ("lambda.amazonaws.com", &["aws.lambda"]),
    ("logs.amazonaws.com", &["aws.logs"]),
    (
        "monitoring.amazonaws.com",
        &["aws.cloudwatch", "aws.monitoring"],
    ),
    ("route53resolver.amazonaws.com", &["aws.route53resolver"]),
    ("s3.amazonaws.com", &["aws.s3"]),
    ("sns.amazonaws.com", &["aws.sns"]),
    ("sqs.amazonaws.com", &["aws.sqs"]),
    ("sts.amazonaws.com", &["aws.sts"]),
];

/// The sources EventBridge gives the CloudTrail records of `event_source`; empty for a
/// service Tourniquet does not know, whose records it cannot vouch for.
pub fn sources_of(event_source: &str) -> &'static [&'static str] {
    CLOUDTRAIL_SOURCES
        .iter()
        .find(|(s, _)| *s == event_source)
        .map_or(&[], |(_, sources)| sources)
}

/// An event that does not come from where it says it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} came with source {claimed_source:?}, {why}")]
pub struct Forgery {
    /// What the event claims to be (`StopLogging by arn:…`).
    pub what: String,
    pub claimed_source: String,
    /// Why it is not believed, for a person.
    pub why: String,
    /// The caller the event claims, for a CloudTrail record: unverified, and worth looking
    /// up (the forger may have named themselves, or the innocent they aim at).
    pub claimed_caller: Option<String>,
}

/// Whether `trigger` may be acted on: its source is its service's, and it is not from the
/// future. A direct invocation and the sweep carry no source: whoever may invoke the function
/// may send them (the README says so, and the template outputs a policy to keep it so).
pub fn admit(trigger: &Trigger, now: SystemTime) -> Result<(), Forgery> {
    let Some(envelope) = trigger.envelope() else {
        return Ok(());
    };
    let forgery = |why: String| Forgery {
        what: trigger.describe(),
        claimed_source: envelope.source.clone(),
        why,
        claimed_caller: match trigger {
            Trigger::ApiCall(_, call) => Some(call.principal.display_arn().to_owned()),
            _ => None,
        },
    };
    let expected: &[&str] = match (envelope.detail_type.as_str(), trigger) {
        (API_CALL, Trigger::ApiCall(_, call)) => {
            let sources = sources_of(&call.event_source);
            if sources.is_empty() {
                return Err(forgery(format!(
                    "and its event source {:?} is not a service Tourniquet knows the \
                     EventBridge source of",
                    call.event_source
                )));
            }
            sources
        }
        (TAG_CHANGE, _) => &["aws.tag"],
        (GUARDDUTY_FINDING, _) => &["aws.guardduty"],
        (SCHEDULED, _) => &["aws.events"],
        (other, _) => {
            return Err(forgery(format!(
                "and {other:?} is not an event Tourniquet reads"
            )));
        }
    };
    if !expected.contains(&envelope.source.as_str()) {
        return Err(forgery(format!(
            "but AWS sends these only as {}: it was put on the bus by someone else",
            expected.join(" or ")
        )));
    }
    let at = DateTime::from_str(&envelope.time, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok());
    match at {
        None => Err(forgery(format!(
            "and its time {:?} is not an RFC 3339 instant, as AWS writes it",
            envelope.time
        ))),
        Some(at) if at > now + CLOCK_SKEW => Err(forgery(format!(
            "and its time {} is in the future: no AWS service sent it",
            envelope.time
        ))),
        Some(_) => Ok(()),
    }
}

/// The notification for a forged event: a person should find who can put events on the bus.
pub fn notice(forgery: &Forgery, delivery_id: &str, function: &str) -> Notification {
    let caller = forgery
        .claimed_caller
        .as_deref()
        .map(|c| format!(" It claims the call was made by {c} (unverified)."))
        .unwrap_or_default();
    Notification {
        severity: Severity::Warning,
        action: "forged".to_owned(),
        resource: format!("source {}", forgery.claimed_source),
        headline: format!("forged event ignored: source {}", forgery.claimed_source),
        body: vec![
            format!(
                "An event was not believed: {forgery}. Nothing was changed and nothing was \
                 counted.{caller}"
            ),
            format!(
                "Only AWS can send events under an `aws.` source; a rule of {function} passed \
                 this one, or it was invoked directly."
            ),
        ],
        next_steps: vec![
            format!(
                "Find who sent it: CloudTrail's events:PutEvents records (a data event), or \
                 lambda:InvokeFunction on {function}, around this time."
            ),
            "Check who may put events on the bus (its resource policy) and invoke Tourniquet's \
             functions: the stack's output InvokeDenyStatement keeps them to EventBridge and \
             the operators."
                .to_owned(),
        ],
        links: Vec::new(),
        incident: delivery_id.to_owned(),
        scope: None,
        facts: json!({
            "delivery_id": delivery_id,
            "trigger": forgery.what,
            "source": forgery.claimed_source,
            "refused": forgery.why,
            "claimed_caller": forgery.claimed_caller,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::decode;
    use serde_json::{Value, json};

    fn now() -> SystemTime {
        SystemTime::try_from(DateTime::from_str("2026-11-23T02:00:30Z", Format::DateTime).unwrap())
            .unwrap()
    }

    fn call(source: &str, event_source: &str) -> Value {
        json!({
            "id": "e-1", "detail-type": API_CALL, "source": source, "account": "111122223333",
            "region": "us-east-1", "time": "2026-11-23T02:00:00Z", "resources": [],
            "detail": {
                "eventName": "StopLogging", "eventSource": event_source, "awsRegion": "us-east-1",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                                 "userName": "alice", "accountId": "111122223333"},
                "requestParameters": {"name": "main"}
            }
        })
    }

    fn admitted(v: &Value) -> Result<(), Forgery> {
        admit(&decode(v).unwrap(), now())
    }

    #[test]
    fn a_record_is_believed_only_from_its_services_source() {
        assert_eq!(
            admitted(&call("aws.cloudtrail", "cloudtrail.amazonaws.com")),
            Ok(())
        );
        assert_eq!(
            admitted(&call("aws.cloudwatch", "monitoring.amazonaws.com")),
            Ok(())
        );
        assert_eq!(
            admitted(&call("aws.monitoring", "monitoring.amazonaws.com")),
            Ok(())
        );
        for (source, event_source) in [
            ("x.forge", "cloudtrail.amazonaws.com"),
            // Another service's reserved source is no better.
            ("aws.ec2", "cloudtrail.amazonaws.com"),
            // Derived blindly, this one would pass.
            ("aws.monitoring.forge", "monitoring.amazonaws.com"),
            ("aws.unknown", "unknown.amazonaws.com"),
        ] {
            let err = admitted(&call(source, event_source)).unwrap_err();
            assert_eq!(err.claimed_source, source);
            assert_eq!(
                err.claimed_caller.as_deref(),
                Some("arn:aws:iam::111122223333:user/alice")
            );
        }
    }

    #[test]
    fn tag_changes_findings_and_schedules_come_from_their_services() {
        let mut tag = json!({"id": "t", "detail-type": TAG_CHANGE, "source": "aws.tag",
            "account": "1", "region": "us-east-1", "time": "2026-11-23T02:00:00Z",
            "detail": {"service": "ec2", "resource-type": "instance", "changed-tag-keys": ["Tainted"]}});
        assert_eq!(admitted(&tag), Ok(()));
        tag["source"] = json!("custom.tag");
        assert!(admitted(&tag).unwrap_err().why.contains("aws.tag"));

        let mut schedule = json!({"id": "s", "detail-type": SCHEDULED, "source": "aws.events",
            "account": "1", "region": "us-east-1", "time": "2026-11-23T02:00:00Z", "detail": {}});
        assert_eq!(admitted(&schedule), Ok(()));
        schedule["source"] = json!("my.scheduler");
        assert!(admitted(&schedule).is_err());

        let mut finding = json!({"id": "g", "detail-type": GUARDDUTY_FINDING,
            "source": "aws.guardduty", "account": "1", "region": "us-east-1",
            "time": "2026-11-23T02:00:00Z",
            "detail": {"id": "f", "type": "Backdoor:EC2/C&CActivity.B", "severity": 8,
                       "resource": {"resourceType": "Instance",
                                    "instanceDetails": {"instanceId": "i-1"}}}});
        assert_eq!(admitted(&finding), Ok(()));
        finding["source"] = json!("aws.guardduty.fake");
        assert!(admitted(&finding).is_err());
    }

    #[test]
    fn an_event_from_the_future_is_refused() {
        let mut v = call("aws.cloudtrail", "cloudtrail.amazonaws.com");
        v["time"] = json!("2026-11-23T02:01:30Z");
        assert_eq!(admitted(&v), Ok(()), "within a minute of skew");
        v["time"] = json!("2026-11-23T02:01:31Z");
        assert!(admitted(&v).unwrap_err().why.contains("future"));
        v["time"] = json!("yesterday");
        assert!(admitted(&v).unwrap_err().why.contains("RFC 3339"));
    }

    #[test]
    fn direct_invocations_and_the_sweep_carry_no_source() {
        let direct = decode(&json!({"instance_ids": ["i-1"]})).unwrap();
        assert_eq!(admit(&direct, now()), Ok(()));
        assert_eq!(admit(&Trigger::Sweep, now()), Ok(()));
    }

    #[test]
    fn the_notice_warns_and_names_the_source_and_the_claimed_caller() {
        let err = admitted(&call("x.forge", "cloudtrail.amazonaws.com")).unwrap_err();
        let n = notice(&err, "e-1", "disable-offender");
        assert_eq!(n.severity, Severity::Warning);
        assert!(n.headline.contains("x.forge"), "{}", n.headline);
        assert!(n.body[0].contains("user/alice"), "{:?}", n.body);
        assert_eq!(n.facts["source"], "x.forge");
    }
}
