//! A GuardDuty finding isolates only once GuardDuty confirms it. A finding-shaped event can be
//! sent by whoever may invoke the function, and names any instance; GuardDuty itself says
//! whether the finding exists in its detector, is not archived, and has the type, severity and
//! instance the event claims. The question rides beside the first round's reads.

use aws_sdk_guardduty::error::{ProvideErrorMetadata, SdkError};
use tourniquet::errors::sdk_message;
use tourniquet::events::Finding;

/// Severities are one decimal; anything closer is the same.
const SEVERITY_EPSILON: f64 = 0.05;

/// What GuardDuty says of a finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    Confirmed,
    /// GuardDuty answered, and it does not back the event: why, for a person.
    Refuted(String),
    /// GuardDuty could not be asked (access denied, no detector id): a real finding would go
    /// unanswered, so a person must look.
    Unconfirmable(String),
}

/// Asks GuardDuty about `f`, claimed to be about `instance_id`. `Err` when the answer may come
/// on a retry (throttling, a 5xx, a timeout).
pub async fn confirm(
    gd: &aws_sdk_guardduty::Client,
    f: &Finding,
    instance_id: &str,
) -> Result<Confirmation, String> {
    let Some(detector) = f.detector_id.as_deref() else {
        return Ok(Confirmation::Unconfirmable(format!(
            "finding {} names no detector (detail.service.detectorId)",
            f.id
        )));
    };
    let out = match gd
        .get_findings()
        .detector_id(detector)
        .finding_ids(&f.id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return answer_to_error(&e, detector, &f.id),
    };
    let Some(found) = out
        .findings()
        .iter()
        .find(|g| g.id() == Some(f.id.as_str()))
    else {
        return Ok(Confirmation::Refuted(format!(
            "GuardDuty's detector {detector} has no finding {}",
            f.id
        )));
    };
    if found.service().and_then(|s| s.archived()) == Some(true) {
        return Ok(Confirmation::Refuted(format!(
            "finding {} is archived",
            f.id
        )));
    }
    let differs = differences(found, f, instance_id);
    if differs.is_empty() {
        Ok(Confirmation::Confirmed)
    } else {
        Ok(Confirmation::Refuted(format!(
            "GuardDuty's finding {} has {}",
            f.id,
            differs.join(", ")
        )))
    }
}

/// What GuardDuty's `found` says otherwise than the event's `f`: its type, its severity, the
/// instance it is about.
fn differences(
    found: &aws_sdk_guardduty::types::Finding,
    f: &Finding,
    instance_id: &str,
) -> Vec<String> {
    let mut differs = Vec::new();
    if found.r#type() != Some(f.finding_type.as_str()) {
        differs.push(format!(
            "type {} (the event says {})",
            found.r#type().unwrap_or("none"),
            f.finding_type
        ));
    }
    match found.severity() {
        Some(s) if (s - f.severity).abs() < SEVERITY_EPSILON => {}
        other => differs.push(format!(
            "severity {} (the event says {})",
            other.map_or("none".to_owned(), |s| s.to_string()),
            f.severity
        )),
    }
    let about = found
        .resource()
        .and_then(|r| r.instance_details())
        .and_then(|d| d.instance_id());
    if about != Some(instance_id) {
        differs.push(format!(
            "instance {} (the event says {instance_id})",
            about.unwrap_or("none")
        ));
    }
    differs
}

/// GuardDuty answers an unknown detector or a malformed id with `BadRequestException`.
fn answer_to_error<E: ProvideErrorMetadata + std::error::Error + 'static, R>(
    e: &SdkError<E, R>,
    detector: &str,
    id: &str,
) -> Result<Confirmation, String>
where
    R: std::fmt::Debug,
{
    let message = sdk_message(e);
    let SdkError::ServiceError(service) = e else {
        return Err(format!("GetFindings: {message}"));
    };
    match service.err().code() {
        Some("BadRequestException") => Ok(Confirmation::Refuted(format!(
            "GuardDuty does not know detector {detector} or finding {id}: {message}"
        ))),
        Some(code) if code.contains("Throttl") || code.contains("TooManyRequests") => {
            Err(format!("GetFindings: {message}"))
        }
        Some("InternalServerErrorException") | None => Err(format!("GetFindings: {message}")),
        Some(_) => Ok(Confirmation::Unconfirmable(format!(
            "GetFindings: {message}"
        ))),
    }
}
