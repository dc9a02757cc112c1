//! Tourniquet's own resources, and which of them an API call names. An attacker who knows
//! Tourniquet is deployed turns it off first: its rules, functions, keys, table, topic and
//! roles are watched by guard-tourniquet, and calls on them count as offenses.
//!
//! Decided from the call's request and the variables the template sets, never from a name
//! pattern: a rule is named here whatever it is, and whether it is Tourniquet's is decided
//! against the live rule (its targets) and history.

use serde::{Deserialize, Serialize};

use crate::arn::Arn;
use crate::config::{ConfigError, Env};
use crate::events::ApiCall;

/// The stack's own resources, as the template names them to the functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnResources {
    /// The functions, by ARN (`GUARDED_FUNCTIONS`).
    pub functions: Vec<String>,
    /// The KMS keys, by ARN (`GUARDED_KEYS`).
    pub keys: Vec<String>,
    pub table: String,
    pub topic: String,
    /// The functions' roles, by ARN (`TOURNIQUET_ROLE_ARNS`).
    pub roles: Vec<String>,
}

/// One of Tourniquet's resources, as a call names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Own {
    /// An EventBridge rule of the default bus: Tourniquet's when it targets one of its
    /// functions, or history recorded it.
    Rule(String),
    Function(String),
    Key(String),
    Table(String),
    Topic(String),
    Role(String),
    /// The member stack's rule or role in a member account, described.
    Member(String),
}

impl Own {
    /// The resource id history and notifications use.
    pub fn resource(&self) -> String {
        let (kind, name) = self.parts();
        format!("{kind}:{name}")
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Rule(n) => ("rule", n),
            Self::Function(n) => ("function", n),
            Self::Key(n) => ("key", n),
            Self::Table(n) => ("table", n),
            Self::Topic(n) => ("topic", n),
            Self::Role(n) => ("role", n),
            Self::Member(n) => ("member", n),
        }
    }

    /// For a person: "Tourniquet's EventBridge rule x".
    pub fn describe(&self) -> String {
        let (_, name) = self.parts();
        let what = match self {
            Self::Rule(_) => "EventBridge rule",
            Self::Function(_) => "function",
            Self::Key(_) => "KMS key",
            Self::Table(_) => "history table",
            Self::Topic(_) => "alert topic",
            Self::Role(_) => "role",
            Self::Member(_) => "member stack's",
        };
        format!("Tourniquet's {what} {name}")
    }
}

/// The resource part of an ARN of `service` whose resource starts with `kind`.
fn resource_of<'a>(arn: &'a str, service: &str, kind: &str) -> Option<&'a str> {
    let arn = Arn::parse(arn)?;
    (arn.service == service)
        .then(|| arn.resource.strip_prefix(kind))
        .flatten()
        .filter(|r| !r.is_empty())
}

/// A function's name, from its name, its ARN or a partial ARN (`123456789012:function:f`),
/// without a qualifier.
pub fn function_name(name_or_arn: &str) -> &str {
    let name = name_or_arn
        .split_once(":function:")
        .map_or(name_or_arn, |(_, rest)| rest);
    name.split(':').next().unwrap_or(name)
}

/// A role's name, from its ARN (after its path).
pub fn role_name(arn: &str) -> Option<&str> {
    resource_of(arn, "iam", "role/").and_then(|r| r.rsplit('/').next())
}

/// Whether a key named in a call (`1234abcd-...`, or its ARN) is `key` (an ARN).
pub fn same_key(named: &str, key: &str) -> bool {
    let id = |k: &str| k.rsplit_once("key/").map_or(k, |(_, id)| id).to_owned();
    named == key || id(named) == id(key)
}

/// Calls on each kind of resource that can blind or disarm Tourniquet. Lambda's event names
/// carry an API version (`UpdateFunctionConfiguration20150331v2`): prefixes.
const RULE_CALLS: &[&str] = &[
    "DisableRule",
    "DeleteRule",
    "RemoveTargets",
    "PutRule",
    "PutTargets",
];
const FUNCTION_CALLS: &[&str] = &[
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "PutFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "DeleteFunction",
    "AddPermission",
    "RemovePermission",
];
const KEY_CALLS: &[&str] = &["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"];
const TABLE_CALLS: &[&str] = &[
    "DeleteTable",
    "UpdateTable",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
];
const TOPIC_CALLS: &[&str] = &[
    "DeleteTopic",
    "SetTopicAttributes",
    "Subscribe",
    "Unsubscribe",
    "SetSubscriptionAttributes",
    "AddPermission",
    "RemovePermission",
];
const ROLE_CALLS: &[&str] = &[
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "DeleteRole",
];

impl OwnResources {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let arns = |name: &'static str, valid: fn(&str) -> bool, expected: &'static str| {
            env.words(name)
                .into_iter()
                .map(|a| {
                    if valid(&a) {
                        Ok(a)
                    } else {
                        Err(ConfigError::Invalid {
                            name,
                            value: a,
                            expected,
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            functions: arns(
                "GUARDED_FUNCTIONS",
                |a| resource_of(a, "lambda", "function:").is_some(),
                "comma-separated Lambda function ARNs",
            )?,
            keys: arns(
                "GUARDED_KEYS",
                |a| resource_of(a, "kms", "key/").is_some(),
                "comma-separated KMS key ARNs",
            )?,
            table: env.required("HISTORY_TABLE")?,
            topic: env.required("ALERT_TOPIC_ARN")?,
            roles: env.role_arns("TOURNIQUET_ROLE_ARNS")?,
        })
    }

    pub fn function_names(&self) -> Vec<&str> {
        self.functions.iter().map(|a| function_name(a)).collect()
    }

    /// Which of Tourniquet's resources the call names, if any, whether it succeeded or not
    /// (a failed attempt is still an offense; the guard ignores it: nothing changed).
    pub fn named(&self, call: &ApiCall) -> Option<Own> {
        let param = |k: &str| call.request_parameters.get(k).and_then(|v| v.as_str());
        let name = call.event_name.as_str();
        let is = |calls: &[&str]| calls.iter().any(|c| name.starts_with(c));
        match call.event_source.as_str() {
            "events.amazonaws.com" if is(RULE_CALLS) => {
                let bus = param("eventBusName").unwrap_or("default");
                if bus != "default" && !bus.ends_with(":event-bus/default") {
                    return None;
                }
                param("name")
                    .or(param("rule"))
                    .map(|r| Own::Rule(r.to_owned()))
            }
            "lambda.amazonaws.com" if is(FUNCTION_CALLS) => {
                let f = function_name(param("functionName")?);
                self.function_names()
                    .contains(&f)
                    .then(|| Own::Function(f.to_owned()))
            }
            "kms.amazonaws.com" if is(KEY_CALLS) => {
                let k = param("keyId")?;
                self.keys
                    .iter()
                    .find(|key| same_key(k, key))
                    .map(|key| Own::Key(key.clone()))
            }
            "dynamodb.amazonaws.com" if is(TABLE_CALLS) => {
                // By name or by ARN, as DynamoDB accepts either.
                let named = param("tableName").or(param("resourceArn"))?;
                let table = named.rsplit_once(":table/").map_or(named, |(_, t)| t);
                (table == self.table).then(|| Own::Table(table.to_owned()))
            }
            "sns.amazonaws.com" if is(TOPIC_CALLS) => {
                let ours = param("topicArn") == Some(self.topic.as_str())
                    || param("subscriptionArn")
                        .is_some_and(|s| s.starts_with(&format!("{}:", self.topic)));
                ours.then(|| Own::Topic(self.topic.clone()))
            }
            "iam.amazonaws.com" if is(ROLE_CALLS) => {
                let role = param("roleName")?;
                self.roles
                    .iter()
                    .filter_map(|a| role_name(a))
                    .any(|r| r == role)
                    .then(|| Own::Role(role.to_owned()))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Principal;
    use serde_json::{Value, json};

    fn own() -> OwnResources {
        OwnResources {
            functions: vec!["arn:aws:lambda:us-east-1:1:function:tq-isolate".into()],
            keys: vec!["arn:aws:kms:us-east-1:1:key/k1".into()],
            table: "tq-history".into(),
            topic: "arn:aws:sns:us-east-1:1:tq-alerts".into(),
            roles: vec!["arn:aws:iam::1:role/tq-isolate-role".into()],
        }
    }

    fn call(source: &str, name: &str, request: Value) -> ApiCall {
        ApiCall {
            event_name: name.into(),
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
    fn only_tourniquets_own_resources_are_named() {
        let o = own();
        let named = |s: &str, n: &str, r: Value| o.named(&call(s, n, r));
        assert_eq!(
            named(
                "lambda.amazonaws.com",
                "PutFunctionConcurrency20171031",
                json!({"functionName": "arn:aws:lambda:us-east-1:1:function:tq-isolate"})
            ),
            Some(Own::Function("tq-isolate".into()))
        );
        assert_eq!(
            named(
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2",
                json!({"functionName": "other"})
            ),
            None
        );
        assert_eq!(
            named(
                "events.amazonaws.com",
                "RemoveTargets",
                json!({"rule": "r", "ids": ["a"]})
            ),
            Some(Own::Rule("r".into()))
        );
        assert_eq!(
            named(
                "events.amazonaws.com",
                "DisableRule",
                json!({"name": "r", "eventBusName": "custom"})
            ),
            None
        );
        assert_eq!(
            named(
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                json!({"keyId": "k1"})
            ),
            Some(Own::Key("arn:aws:kms:us-east-1:1:key/k1".into()))
        );
        assert_eq!(
            named(
                "dynamodb.amazonaws.com",
                "PutResourcePolicy",
                json!({"resourceArn": "arn:aws:dynamodb:us-east-1:1:table/tq-history"})
            ),
            Some(Own::Table("tq-history".into()))
        );
        assert_eq!(
            named(
                "sns.amazonaws.com",
                "Unsubscribe",
                json!({"subscriptionArn": "arn:aws:sns:us-east-1:1:tq-alerts:0b1c"})
            ),
            Some(Own::Topic("arn:aws:sns:us-east-1:1:tq-alerts".into()))
        );
        assert_eq!(
            named(
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "tq-isolate-role"})
            ),
            Some(Own::Role("tq-isolate-role".into()))
        );
        assert_eq!(
            named(
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "x"})
            ),
            None
        );
        assert_eq!(
            named(
                "dynamodb.amazonaws.com",
                "DeleteTable",
                json!({"tableName": "arn:aws:dynamodb:us-east-1:1:table/tq-history"})
            ),
            Some(Own::Table("tq-history".into()))
        );
    }

    #[test]
    fn the_arns_are_checked() {
        let env = Env::from_pairs([
            ("GUARDED_FUNCTIONS", "tq-isolate"),
            ("HISTORY_TABLE", "t"),
            ("ALERT_TOPIC_ARN", "a"),
        ]);
        assert!(matches!(
            OwnResources::from_env(&env),
            Err(ConfigError::Invalid {
                name: "GUARDED_FUNCTIONS",
                ..
            })
        ));
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:live"),
            "f"
        );
        assert_eq!(function_name("123456789012:function:f"), "f");
        assert_eq!(function_name("f"), "f");
        assert_eq!(role_name("arn:aws:iam::1:role/a/b/r"), Some("r"));
    }
}
