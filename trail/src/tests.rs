//! The trail model's tests: names, judging a live trail against its baseline, judging a call.

use crate::*;

#[test]
fn a_call_weakens_only_when_it_takes_coverage_away() {
    let strengthen = serde_json::json!({"name": "t", "enableLogFileValidation": true, "isMultiRegionTrail": true});
    assert!(weakenings_of("UpdateTrail", &strengthen).is_empty());
    let weaken = serde_json::json!({"name": "t", "isMultiRegionTrail": false, "kmsKeyId": ""});
    assert_eq!(
        weakenings_of("UpdateTrail", &weaken),
        ["multi-region turned off", "KMS key removed"]
    );
    let moved = serde_json::json!({"name": "t", "s3BucketName": "elsewhere"});
    assert_eq!(
        weakenings_of("UpdateTrail", &moved),
        ["destination bucket changed to elsewhere"]
    );
    assert_eq!(
        weakenings_of("StopLogging", &serde_json::json!({})),
        ["logging turned off"]
    );
    let grant = serde_json::json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": "*"});
    let keeps = serde_json::json!({"bucketName": "b", "bucketPolicy": {"Statement": [grant]}});
    assert!(weakenings_of("PutBucketPolicy", &keeps).is_empty());
    let denies = serde_json::json!({"bucketName": "b", "bucketPolicy": {"Statement": [grant,
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}});
    assert_eq!(weakenings_of("PutBucketPolicy", &denies).len(), 1);
    let enabled =
        serde_json::json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Enabled"}});
    assert!(weakenings_of("PutBucketVersioning", &enabled).is_empty());
    let full = serde_json::json!({"trailName": "t", "eventSelectors": [
            {"readWriteType": "All", "includeManagementEvents": true,
             "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]});
    assert!(weakenings_of("PutEventSelectors", &full).is_empty());
    let narrowed = serde_json::json!({"trailName": "t", "eventSelectors": [
            {"readWriteType": "ReadOnly", "includeManagementEvents": true,
             "excludeManagementEventSources": ["kms.amazonaws.com"]}]});
    assert_eq!(
        weakenings_of("PutEventSelectors", &narrowed),
        [
            "management events narrowed from all to read-only",
            "management events from kms.amazonaws.com excluded"
        ]
    );
}

fn all_management() -> Selectors {
    Selectors {
        basic: vec![Basic {
            read_write: "All".into(),
            management: true,
            data: vec![(
                "AWS::S3::Object".into(),
                vec!["arn:aws:s3:::secrets/".into()],
            )],
            exclude_sources: vec![],
        }],
        advanced: vec![],
    }
}

fn healthy() -> TrailConfig {
    TrailConfig {
        trail: TrailRef::resolve("main", "us-east-1", "aws", "1").unwrap(),
        bucket: "audit-logs".into(),
        prefix: Some("ct".into()),
        sns_topic: None,
        multi_region: true,
        global_events: true,
        log_file_validation: true,
        kms_key: Some("arn:aws:kms:us-east-1:1:key/k".into()),
        log_group: None,
        log_role: None,
        organization: false,
        selectors: all_management(),
        logging: true,
        delivery_error: None,
        bucket_state: None,
        key_state: None,
    }
}

#[test]
fn names_and_arns_resolve_to_the_home_region() {
    let by_name = TrailRef::resolve("main", "eu-west-1", "aws", "123456789012").unwrap();
    assert_eq!(by_name.home_region, "eu-west-1");
    assert_eq!(
        by_name.arn,
        "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main"
    );
    let by_arn = TrailRef::resolve(
        "arn:aws:cloudtrail:us-west-2:123456789012:trail/org.main_1",
        "eu-west-1",
        "aws",
        "123456789012",
    )
    .unwrap();
    assert_eq!(by_arn.name, "org.main_1");
    assert_eq!(
        by_arn.home_region, "us-west-2",
        "an ARN's region wins over the call's"
    );
    assert!(TrailRef::resolve("arn:aws:s3:::bucket", "us-east-1", "aws", "1").is_none());
    assert!(
        TrailRef::resolve(
            "arn:aws:cloudtrail:evil.example.com:1:trail/x",
            "us-east-1",
            "aws",
            "1"
        )
        .is_none()
    );
    assert!(TrailRef::resolve("a b", "us-east-1", "aws", "1").is_none());
    assert!(TrailRef::resolve("main", "http://x", "aws", "1").is_none());
}

#[test]
fn regions_are_validated() {
    for ok in [
        "us-east-1",
        "eu-central-2",
        "us-gov-west-1",
        "ap-southeast-4",
    ] {
        assert!(is_region(ok), "{ok}");
    }
    for bad in [
        "",
        "us-east",
        "US-EAST-1",
        "us-east-1.evil.com",
        "localhost:80",
        "-east-1",
    ] {
        assert!(!is_region(bad), "{bad}");
    }
}

#[test]
fn a_healthy_trail_has_no_weakness() {
    assert!(weaknesses(&healthy(), &healthy()).is_empty());
    // Adding coverage is not a weakness.
    let mut more = healthy();
    more.selectors.basic[0].data.push((
        "AWS::Lambda::Function".into(),
        vec!["arn:aws:lambda".into()],
    ));
    assert!(weaknesses(&more, &healthy()).is_empty());
}

#[test]
fn every_weakening_is_named() {
    let base = healthy();
    let mut live = healthy();
    live.logging = false;
    live.log_file_validation = false;
    live.multi_region = false;
    live.global_events = false;
    live.bucket = "attacker-bucket".into();
    live.kms_key = None;
    live.selectors.basic[0].read_write = "ReadOnly".into();
    live.selectors.basic[0].data.clear();
    live.selectors.basic[0].exclude_sources = vec!["kms.amazonaws.com".into()];
    live.sns_topic = Some("arn:aws:sns:us-east-1:1:attacker".into());
    live.delivery_error = Some("AccessDenied".into());
    let w = weaknesses(&live, &base);
    for expected in [
        "logging turned off",
        "log file validation turned off",
        "multi-region turned off",
        "global service events turned off",
        "destination bucket changed from audit-logs to attacker-bucket",
        "KMS key changed from arn:aws:kms:us-east-1:1:key/k to none",
        "management events narrowed from all to read-only",
        "1 data event resource(s) dropped",
        "management events from kms.amazonaws.com excluded",
        "notification topic changed from none to arn:aws:sns:us-east-1:1:attacker",
        "logs not delivered: AccessDenied",
    ] {
        assert!(
            w.iter().any(|x| x == expected),
            "missing {expected:?} in {w:?}"
        );
    }
    let restored: Vec<&str> = live.weakened(&base).iter().map(|s| s.key).collect();
    assert_eq!(
        restored,
        [
            "s3BucketName",
            "snsTopicName",
            "isMultiRegionTrail",
            "includeGlobalServiceEvents",
            "enableLogFileValidation",
            "kmsKeyId"
        ]
    );
}

#[test]
fn a_notification_topic_changed_alone_is_a_weakness() {
    let mut live = healthy();
    live.sns_topic = Some("arn:aws:sns:us-east-1:1:elsewhere".into());
    assert_eq!(weaknesses(&live, &healthy()).len(), 1);
    let call = serde_json::json!({"name": "t", "snsTopicName": ""});
    assert_eq!(
        weakenings_of("UpdateTrail", &call),
        ["notification topic removed"]
    );
}

#[test]
fn advanced_selectors_that_exclude_or_limit_sources_are_weaker() {
    let management = Field {
        field: "eventCategory".into(),
        equals: vec!["Management".into()],
        starts_with: vec![],
        ends_with: vec![],
        not_equals: vec![],
        not_starts_with: vec![],
        not_ends_with: vec![],
    };
    let source = |equals: Vec<String>, not_equals: Vec<String>| Field {
        field: "eventSource".into(),
        equals,
        not_equals,
        ..management.clone()
    };
    let with = |extra: Option<Field>| Selectors {
        basic: vec![],
        advanced: vec![Advanced {
            name: None,
            fields: std::iter::once(management.clone()).chain(extra).collect(),
        }],
    };
    let all = with(None);
    let without_kms = with(Some(source(vec![], vec!["kms.amazonaws.com".into()])));
    assert_eq!(
        without_kms.narrower_than(&all),
        ["management events from kms.amazonaws.com excluded"]
    );
    let only_s3 = with(Some(source(vec!["s3.amazonaws.com".into()], vec![])));
    assert_eq!(
        only_s3.narrower_than(&all),
        ["management events limited to s3.amazonaws.com"]
    );
    assert!(all.narrower_than(&without_kms).is_empty());
    let call = serde_json::json!({"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": [
            {"field": "eventCategory", "equals": ["Management"]},
            {"field": "eventSource", "notEquals": ["cloudtrail.amazonaws.com"]}]}]});
    assert_eq!(
        weakenings_of("PutEventSelectors", &call),
        ["management events from cloudtrail.amazonaws.com excluded"]
    );
}

#[test]
fn management_coverage_reads_advanced_selectors() {
    let field = |f: &str, v: &str| Field {
        field: f.into(),
        equals: vec![v.into()],
        starts_with: vec![],
        ends_with: vec![],
        not_equals: vec![],
        not_starts_with: vec![],
        not_ends_with: vec![],
    };
    let adv = |fields| Selectors {
        basic: vec![],
        advanced: vec![Advanced { name: None, fields }],
    };
    assert_eq!(
        adv(vec![field("eventCategory", "Management")])
            .management()
            .len(),
        2
    );
    let read_only = adv(vec![
        field("eventCategory", "Management"),
        field("readOnly", "true"),
    ]);
    assert_eq!(
        read_only.management().into_iter().collect::<Vec<_>>(),
        vec![Access::Read]
    );
    assert!(
        adv(vec![field("eventCategory", "Data")])
            .management()
            .is_empty()
    );
    assert_eq!(read_only.to_sdk_advanced().unwrap().len(), 1);
}

#[test]
fn baselines_round_trip_through_json() {
    let c = healthy();
    let back: TrailConfig = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}
