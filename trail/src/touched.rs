//! Which trails an S3 or KMS call touches: those whose log bucket or KMS key it names. One
//! `DescribeTrails` answers it, so that calls on every other bucket and key are ignored
//! cheaply. Shared with disable-offender, which counts such a call as an offense only when
//! it touches a trail.

use aws_sdk_cloudtrail::Client;
use serde_json::Value;
use tourniquet::errors::AwsError;
use tourniquet::events::ApiCall;
use tourniquet::own;

use crate::name::TrailRef;

const S3: &str = "s3.amazonaws.com";
const KMS: &str = "kms.amazonaws.com";

/// A call on a bucket or a key, not on a trail.
pub fn is_delivery_call(call: &ApiCall) -> bool {
    call.event_source == S3 || call.event_source == KMS
}

/// The account of an ARN (a trail's): the expected owner of its bucket.
pub fn account_of(arn: &str) -> &str {
    tourniquet::arn::Arn::parse(arn).map_or("", |a| a.account)
}

/// Whether the call's request names this bucket or this key.
pub fn touches(call: &ApiCall, bucket: Option<&str>, key: Option<&str>) -> bool {
    let named = |field: &str| call.request_parameters.get(field).and_then(Value::as_str);
    match call.event_source.as_str() {
        S3 => named("bucketName").is_some_and(|b| Some(b) == bucket),
        KMS => named("keyId")
            .zip(key)
            .is_some_and(|(n, k)| own::same_key(n, k)),
        _ => false,
    }
}

/// The trails homed in this region whose bucket or key the call names.
pub async fn trails_touched(ct: &Client, call: &ApiCall) -> Result<Vec<TrailRef>, AwsError> {
    let out = ct
        .describe_trails()
        .include_shadow_trails(false)
        .send()
        .await
        .map_err(|e| AwsError::of("DescribeTrails", &e))?;
    Ok(out
        .trail_list()
        .iter()
        .filter(|t| touches(call, t.s3_bucket_name(), t.kms_key_id()))
        .filter_map(|t| {
            Some(TrailRef {
                name: t.name()?.to_owned(),
                home_region: t.home_region()?.to_owned(),
                arn: t.trail_arn()?.to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tourniquet::events::Principal;

    fn call(source: &str, request: Value) -> ApiCall {
        ApiCall {
            event_name: "X".into(),
            event_source: source.into(),
            region: "us-east-1".into(),
            principal: Principal::Root {
                arn: "arn:aws:iam::1:root".into(),
                account: "1".into(),
            },
            error_code: None,
            request_parameters: request,
            response_elements: Value::Null,
            source_ip: None,
        }
    }

    #[test]
    fn only_the_trails_own_bucket_or_key_is_touched() {
        let key = "arn:aws:kms:us-east-1:1:key/1234abcd-12ab";
        let s3 = call(S3, json!({"bucketName": "audit"}));
        assert!(touches(&s3, Some("audit"), None));
        assert!(!touches(&s3, Some("other"), Some(key)));
        assert!(touches(
            &call(KMS, json!({"keyId": "1234abcd-12ab"})),
            None,
            Some(key)
        ));
        assert!(touches(&call(KMS, json!({"keyId": key})), None, Some(key)));
        assert!(!touches(
            &call(KMS, json!({"keyId": "ffff"})),
            None,
            Some(key)
        ));
        assert!(!touches(&call(KMS, json!({})), None, Some(key)));
        assert_eq!(
            account_of("arn:aws:cloudtrail:us-east-1:123:trail/t"),
            "123"
        );
    }
}
