//! guard-tourniquet against the emulator: someone turns Tourniquet off, one resource at a
//! time.
//!
//! Emulator gaps: IAM is not enforced; calls are recorded by no CloudTrail, so each test
//! makes the call and then delivers the event CloudTrail would have sent.

use guard_tourniquet::{FUNCTION, Guard, GuardConfig};
use serde_json::{Value, json};
use tourniquet::pipeline::handle;
use tourniquet::{Outcome, Summary};
use tourniquet_tests::{Account, sample};

const REGION_ACCOUNT: &str = "us-east-1:123456789012";
const ISOLATE: &str = "tourniquet-IsolateInstanceFunction-ABC";
const RULE: &str = "tourniquet-IsolateInstanceFunctionCreateTags-1A2B3C4D5E6F";
const ROLE: &str = "arn:aws:iam::123456789012:role/tourniquet-GuardRole-X";
/// The stack the functions belong to, created by each setup: its deploy is now.
const STACK: &str = "tourniquet";

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION_ACCOUNT}:function:{name}")
}

struct Setup {
    account: Account,
    fw: tourniquet::Framework,
    guard: Guard,
    key: String,
}

async fn setup() -> Setup {
    let account = Account::new().await;
    let key = aws_sdk_kms::Client::new(&account.sdk)
        .create_key()
        .send()
        .await
        .expect("key")
        .key_metadata()
        .and_then(|m| m.arn().map(str::to_owned))
        .expect("key arn");
    aws_sdk_cloudformation::Client::new(&account.sdk)
        .create_stack()
        .stack_name(STACK)
        .template_body(r#"{"Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}}}"#)
        .send()
        .await
        .expect("stack");
    let functions = function_arn(ISOLATE);
    let extra = [
        ("GUARDED_FUNCTIONS", functions.as_str()),
        ("GUARDED_KEYS", key.as_str()),
        ("TOURNIQUET_ROLE_ARNS", ROLE),
        ("STACK_NAME", STACK),
    ];
    let fw = account.framework(FUNCTION, &extra).await;
    let guard = Guard::new(
        &fw,
        GuardConfig::from_env(&account.env(&extra)).expect("config"),
    );
    Setup {
        account,
        fw,
        guard,
        key,
    }
}

impl Setup {
    async fn deliver(&self, event: &Value) -> Summary {
        handle(&self.fw, &self.guard, event, "request-1")
            .await
            .expect("handled")
    }
    async fn audit(&self, id: &str) -> Summary {
        let mut event = sample("heal-cloudtrail/scheduled-audit.json");
        event["id"] = json!(id);
        self.deliver(&event).await
    }
}

/// The call CloudTrail records, by alice, on `source`.
fn call(id: &str, source: &str, name: &str, request: Value) -> Value {
    let mut event = sample("guard-tourniquet/disable-rule.json");
    event["id"] = json!(id);
    event["source"] = json!(format!(
        "aws.{}",
        source.split('.').next().unwrap_or_default()
    ));
    event["detail"]["eventSource"] = json!(source);
    event["detail"]["eventName"] = json!(name);
    event["detail"]["requestParameters"] = request;
    event
}

fn steps_of(summary: &Summary, resource: &str) -> Vec<tourniquet::Step> {
    match summary.outcome_of(resource) {
        Some(Outcome::Remediated { steps } | Outcome::Partial { steps }) => steps.clone(),
        other => panic!("{resource} was not restored: {other:?} in {summary:?}"),
    }
}

#[tokio::test]
async fn a_disabled_rule_gets_its_state_and_target_back_and_pages() {
    let s = setup().await;
    let events = aws_sdk_eventbridge::Client::new(&s.account.sdk);
    events
        .put_rule()
        .name(RULE)
        .event_pattern(r#"{"source":["aws.ec2"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(RULE)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("IsolateInstanceFunctionCreateTagsLambdaTarget")
                .arn(function_arn(ISOLATE))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Another team's rule is never Tourniquet's.
    events
        .put_rule()
        .name("someone-elses")
        .event_pattern(r#"{"source":["aws.s3"]}"#)
        .send()
        .await
        .unwrap();
    let audit = s.audit("audit-1").await;
    assert!(
        matches!(
            audit.outcome_of(&format!("rule:{RULE}")),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{audit:?}"
    );
    assert_eq!(s.account.history_with("BASELINE#guard-rule").await.len(), 1);
    // The guarded function was never created here: the audit says it is gone.
    let gone = s.account.notifications().await;
    assert!(
        gone.iter().any(|n| n.message.contains("deleted")),
        "{gone:?}"
    );
    events.disable_rule().name(RULE).send().await.unwrap();
    events
        .remove_targets()
        .rule(RULE)
        .ids("IsolateInstanceFunctionCreateTagsLambdaTarget")
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&sample("guard-tourniquet/disable-rule.json"))
        .await;
    let steps = steps_of(&summary, &format!("rule:{RULE}"));
    for name in ["enable-rule", "put-targets", "disarmed"] {
        assert!(
            steps.iter().any(|st| st.ok && st.name == name),
            "{name}: {steps:?}"
        );
    }
    let rule = events.describe_rule().name(RULE).send().await.unwrap();
    assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
    let targets = events
        .list_targets_by_rule()
        .rule(RULE)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets().len(), 1);
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].severity(),
        "CRITICAL",
        "restored, and still a page"
    );
    assert!(
        notes[0]
            .message
            .contains("arn:aws:iam::123456789012:user/alice")
    );
    let other = call(
        "other-rule",
        "events.amazonaws.com",
        "DisableRule",
        json!({"name": "someone-elses"}),
    );
    let summary = s.deliver(&other).await;
    assert!(
        matches!(
            summary.outcome_of("rule:someone-elses"),
            Some(Outcome::NothingToDo { .. })
        ),
        "{summary:?}"
    );
    // A deploy of the stack removes the rule: recorded as removed, never put back.
    events
        .remove_targets()
        .rule(RULE)
        .ids("IsolateInstanceFunctionCreateTagsLambdaTarget")
        .send()
        .await
        .unwrap();
    events.delete_rule().name(RULE).send().await.unwrap();
    let mut deploy = call(
        "deploy-removes",
        "events.amazonaws.com",
        "DeleteRule",
        json!({"name": RULE}),
    );
    deploy["detail"]["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
    s.deliver(&deploy).await;
    s.audit("audit-2").await;
    assert!(
        events.describe_rule().name(RULE).send().await.is_err(),
        "the rule the deploy removed stays removed"
    );
    let notes = s.account.notifications().await;
    assert!(notes.iter().all(|n| !n.message.contains(RULE)), "{notes:?}");
}

#[tokio::test]
async fn concurrency_zero_is_undone_and_dry_run_pages() {
    let s = setup().await;
    let iam = aws_sdk_iam::Client::new(&s.account.sdk);
    let role = iam
        .create_role()
        .role_name("tourniquet-isolate-role")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&s.account.sdk);
    let env = s.account.env(&[("TOURNIQUET_ROLE_ARNS", ROLE)]);
    let settings = guard_tourniquet::lambdas::stack_settings(&env);
    let variables: std::collections::HashMap<String, String> = settings
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // An empty zip archive: the emulator stores code, it never runs it here.
    let zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    lambda
        .create_function()
        .function_name(ISOLATE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().map(|r| r.arn()).unwrap_or_default())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        )
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    lambda
        .put_function_concurrency()
        .function_name(ISOLATE)
        .reserved_concurrent_executions(20)
        .send()
        .await
        .unwrap();
    s.audit("audit-1").await;
    assert_eq!(
        s.account
            .history_with("BASELINE#guard-function")
            .await
            .len(),
        1
    );
    s.account.notifications().await;
    // A one-time grant that opens the function to another account: Lambda names the call
    // with its API version, and the function's live settings show nothing of it.
    let grant = call(
        "grant",
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        json!({"functionName": ISOLATE, "statementId": "x", "action": "lambda:InvokeFunction",
               "principal": "444455556666"}),
    );
    let summary = s.deliver(&grant).await;
    assert!(
        matches!(summary.outcome_of(&format!("function:{ISOLATE}")), Some(Outcome::Noticed { detail })
            if detail.contains("lets 444455556666 call lambda:InvokeFunction")),
        "{summary:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0].message.contains("AddPermission20150331v2"),
        "{}",
        notes[0].message
    );
    lambda
        .put_function_concurrency()
        .function_name(ISOLATE)
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    let event = call(
        "zero",
        "lambda.amazonaws.com",
        "PutFunctionConcurrency20171031",
        json!({"functionName": function_arn(ISOLATE), "reservedConcurrentExecutions": 0}),
    );
    let steps = steps_of(&s.deliver(&event).await, &format!("function:{ISOLATE}"));
    assert!(
        steps.iter().any(|st| st.ok && st.name == "concurrency"),
        "{steps:?}"
    );
    let now = lambda
        .get_function_concurrency()
        .function_name(ISOLATE)
        .send()
        .await
        .unwrap();
    assert_eq!(now.reserved_concurrent_executions(), Some(20));
    s.account.notifications().await;
    // DRY_RUN=true outside the stack: paged, not put back (a deploy may mean it).
    let mut dry = variables;
    dry.insert("DRY_RUN".into(), "true".into());
    lambda
        .update_function_configuration()
        .function_name(ISOLATE)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(dry))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = call(
        "dry",
        "lambda.amazonaws.com",
        "UpdateFunctionConfiguration20150331v2",
        json!({"functionName": ISOLATE}),
    );
    let summary = s.deliver(&event).await;
    assert!(
        matches!(summary.outcome_of(&format!("function:{ISOLATE}")), Some(Outcome::Noticed { detail }) if detail.contains("DRY_RUN")),
        "{summary:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes[0].severity(), "CRITICAL");
    // The same call made through CloudFormation while this stack deploys is the change
    // process: the function is recorded as it is now, nobody is paged.
    let mut deploy = event.clone();
    deploy["id"] = json!("deploy");
    deploy["detail"]["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
    let summary = s.deliver(&deploy).await;
    assert!(
        matches!(
            summary.outcome_of(&format!("function:{ISOLATE}")),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{summary:?}"
    );
    assert!(s.account.notifications().await.is_empty());
    // Through another stack, it is tampering like any other.
    let extra = [
        ("GUARDED_FUNCTIONS", function_arn(ISOLATE)),
        ("STACK_NAME", "not-this-one".to_owned()),
    ];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = Guard::new(
        &s.fw,
        GuardConfig::from_env(&s.account.env(&extra)).expect("config"),
    );
    deploy["id"] = json!("another-stack");
    let summary = handle(&s.fw, &other, &deploy, "r").await.unwrap();
    assert!(
        matches!(
            summary.outcome_of(&format!("function:{ISOLATE}")),
            Some(Outcome::Noticed { .. })
        ),
        "{summary:?}"
    );
}

#[tokio::test]
async fn a_disabled_key_is_enabled_and_role_and_table_changes_page_as_offenses() {
    let s = setup().await;
    let kms = aws_sdk_kms::Client::new(&s.account.sdk);
    // Emulator gap: DisableKey by ARN answers 500 on the emulator; by id it works.
    let key_id = s.key.rsplit('/').next().unwrap_or_default().to_owned();
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    let event = call(
        "key",
        "kms.amazonaws.com",
        "DisableKey",
        json!({"keyId": key_id}),
    );
    let steps = steps_of(&s.deliver(&event).await, &format!("key:{}", s.key));
    assert!(
        steps.iter().any(|st| st.ok && st.name == "enable-key"),
        "{steps:?}"
    );
    let state = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        state.key_metadata().and_then(|m| m.key_state()),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    let role = call(
        "role",
        "iam.amazonaws.com",
        "AttachRolePolicy",
        json!({"roleName": "tourniquet-GuardRole-X", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    let summary = s.deliver(&role).await;
    assert!(
        matches!(
            summary.outcome_of("role:tourniquet-GuardRole-X"),
            Some(Outcome::Noticed { .. })
        ),
        "{summary:?}"
    );
    let table = call(
        "table",
        "dynamodb.amazonaws.com",
        "DeleteResourcePolicy",
        json!({"resourceArn": format!("arn:aws:dynamodb:{REGION_ACCOUNT}:table/{}", s.account.table)}),
    );
    let summary = s.deliver(&table).await;
    assert!(
        matches!(
            summary.outcome_of(&format!("table:{}", s.account.table)),
            Some(Outcome::Noticed { .. })
        ),
        "{summary:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 3);
    assert!(notes.iter().all(|n| n.severity() == "CRITICAL"));
    // disable-offender counts each as an offense of alice's.
    let extra = [("GUARDED_KEYS", s.key.as_str())];
    let fw = s
        .account
        .framework(disable_offender::FUNCTION, &extra)
        .await;
    let disabler = disable_offender::Disabler::new(
        &fw,
        disable_offender::DisableConfig::from_env(&s.account.env(&extra)).expect("config"),
    );
    let summary = handle(&fw, &disabler, &table, "r").await.unwrap();
    assert_eq!(summary.cases.len(), 1, "{summary:?}");
    let mut elsewhere = table.clone();
    elsewhere["id"] = json!("other-table");
    elsewhere["detail"]["requestParameters"] =
        json!({"resourceArn": format!("arn:aws:dynamodb:{REGION_ACCOUNT}:table/orders")});
    let summary = handle(&fw, &disabler, &elsewhere, "r").await.unwrap();
    assert!(summary.cases.is_empty(), "{summary:?}");
}

/// A forged call on Tourniquet's own rule pages nobody and restores nothing: a WARNING only.
#[tokio::test]
async fn a_forged_disarming_event_changes_nothing() {
    let s = setup().await;
    let forged = tourniquet_tests::forged(&sample("guard-tourniquet/disable-rule.json"), "f-1");
    let summary = s.deliver(&forged).await;
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|r| r.starts_with("forged")),
        "{summary:?}"
    );
    assert!(
        s.account.history_with("LOCK#").await.is_empty(),
        "no incident"
    );
    tourniquet_tests::assert_forgeries_reported(&s.account.notifications().await, 1);
}
