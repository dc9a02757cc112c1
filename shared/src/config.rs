//! Configuration from the environment, read and validated once per cold start.
//!
//! Every variable of the contract is typed here so that a typo in the template fails the
//! first invocation with a message that names the variable, instead of acting on a default.

use std::collections::HashMap;
use std::time::Duration;

use crate::arn::is_account;
use crate::exempt::ArnGlob;

/// A configuration variable that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A source of variables: the process environment in production, a map in unit tests.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Snapshot of the process environment.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// A set value; an empty or blank value counts as unset.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name)
            .map(str::to_owned)
            .ok_or(ConfigError::Missing(name))
    }

    /// A set value, or `None`.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    pub fn string_or(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    name,
                    value: v.to_owned(),
                    expected: "true or false",
                }),
            },
        }
    }

    pub fn u32_or(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name,
                value: v.to_owned(),
                expected: "a whole number, 0 or more",
            }),
        }
    }

    /// A number within `range`.
    pub fn f64_in(
        &self,
        name: &'static str,
        default: f64,
        range: std::ops::RangeInclusive<f64>,
        expected: &'static str,
    ) -> Result<f64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    value: v.to_owned(),
                    expected,
                }),
        }
    }

    /// A comma-separated list of words, blanks dropped; empty when unset.
    pub fn words(&self, name: &'static str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A positive count of `unit_secs`-second units, as a duration.
    pub fn duration_or(
        &self,
        name: &'static str,
        default_units: u32,
        unit_secs: u64,
    ) -> Result<Duration, ConfigError> {
        let units = self.u32_or(name, default_units)?;
        if units == 0 {
            return Err(ConfigError::Invalid {
                name,
                value: "0".to_owned(),
                expected: "a whole number, 1 or more",
            });
        }
        Ok(Duration::from_secs(u64::from(units) * unit_secs))
    }

    /// A comma-separated list of ARN globs; empty when unset.
    pub fn globs(&self, name: &'static str) -> Result<Vec<ArnGlob>, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(Vec::new());
        };
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                ArnGlob::parse(s).ok_or_else(|| ConfigError::Invalid {
                    name,
                    value: s.to_owned(),
                    expected: "comma-separated ARNs, `*` and `?` as wildcards",
                })
            })
            .collect()
    }
}

impl Env {
    /// A comma-separated list of IAM role ARNs; empty when unset.
    pub fn role_arns(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(Vec::new());
        };
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match crate::exempt::IdentityKey::from_caller_arn(s) {
                crate::exempt::IdentityKey::Role { .. } if s.contains(":iam::") => Ok(s.to_owned()),
                _ => Err(ConfigError::Invalid {
                    name,
                    value: s.to_owned(),
                    expected: "comma-separated IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME)",
                }),
            })
            .collect()
    }
}

/// The default of `LEASE_MARGIN_SECONDS`.
pub const LEASE_MARGIN_SECONDS: u32 = 30;

/// The variables every function shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// The function's name, for notifications and metrics.
    pub function: &'static str,
    pub history_table: String,
    pub alert_topic_arn: String,
    pub dry_run: bool,
    pub protected_principals: Vec<ArnGlob>,
    /// The execution roles of every Tourniquet function of the stack: their events are
    /// Tourniquet's own. Set, it also spares the cold start its STS call.
    pub tourniquet_roles: Vec<String>,
    /// Other accounts, and how to act in them.
    pub members: MemberConfig,
    /// Time past an invocation's deadline before its open incident counts as abandoned and
    /// the next trigger, or the sweep, resumes it (`LEASE_MARGIN_SECONDS`, 30 by default:
    /// Lambda retries a failed asynchronous invocation a minute later at the earliest).
    pub lease_margin: Duration,
}

impl CommonConfig {
    pub fn from_env(function: &'static str, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            function,
            history_table: env.required("HISTORY_TABLE")?,
            alert_topic_arn: env.required("ALERT_TOPIC_ARN")?,
            dry_run: env.bool_or("DRY_RUN", false)?,
            protected_principals: env.globs("PROTECTED_PRINCIPALS")?,
            tourniquet_roles: env.role_arns("TOURNIQUET_ROLE_ARNS")?,
            members: MemberConfig::from_env(env)?,
            lease_margin: Duration::from_secs(u64::from(
                env.u32_or("LEASE_MARGIN_SECONDS", LEASE_MARGIN_SECONDS)?,
            )),
        })
    }
}

/// The organization settings of the contract.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberConfig {
    /// The role assumed in a member account; `None`: one account only.
    pub role_name: Option<String>,
    pub external_id: Option<String>,
    /// The accounts that may be acted on; empty: any.
    pub accounts: Vec<String>,
}

impl MemberConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let role_name = env.optional("MEMBER_ROLE_NAME");
        if let Some(name) = &role_name {
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
            if !valid {
                return Err(ConfigError::Invalid {
                    name: "MEMBER_ROLE_NAME",
                    value: name.clone(),
                    expected: "an IAM role name (letters, digits and +=,.@_-, at most 64)",
                });
            }
        }
        let accounts = env.words("MEMBER_ACCOUNTS");
        if let Some(bad) = accounts.iter().find(|a| !is_account(a)) {
            return Err(ConfigError::Invalid {
                name: "MEMBER_ACCOUNTS",
                value: bad.clone(),
                expected: "comma-separated twelve-digit account ids",
            });
        }
        Ok(Self {
            role_name,
            external_id: env.optional("MEMBER_EXTERNAL_ID"),
            accounts,
        })
    }

    /// Whether `account` may be acted on through the member role.
    pub fn lists(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn missing_required_variable_is_named() {
        let err = CommonConfig::from_env("f", &env(&[("ALERT_TOPIC_ARN", "arn")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("HISTORY_TABLE"));
        assert!(err.to_string().contains("HISTORY_TABLE"));
    }

    #[test]
    fn blank_counts_as_missing() {
        let err = CommonConfig::from_env(
            "f",
            &env(&[("HISTORY_TABLE", "t"), ("ALERT_TOPIC_ARN", "  ")]),
        )
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing("ALERT_TOPIC_ARN"));
    }

    #[test]
    fn defaults_apply_and_values_parse() {
        let c = CommonConfig::from_env(
            "f",
            &env(&[
                ("HISTORY_TABLE", "t"),
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:x"),
                (
                    "PROTECTED_PRINCIPALS",
                    "arn:aws:iam::*:role/Admin*, arn:aws:iam::1:user/bob",
                ),
            ]),
        )
        .unwrap();
        assert!(!c.dry_run);
        assert_eq!(c.protected_principals.len(), 2);
        assert!(c.tourniquet_roles.is_empty());
        let c = CommonConfig::from_env(
            "f",
            &env(&[
                ("HISTORY_TABLE", "t"),
                ("ALERT_TOPIC_ARN", "a"),
                ("DRY_RUN", "TRUE"),
            ]),
        )
        .unwrap();
        assert!(c.dry_run);
    }

    #[test]
    fn tourniquet_roles_are_role_arns() {
        let e = env(&[(
            "TOURNIQUET_ROLE_ARNS",
            "arn:aws:iam::1:role/a, arn:aws:iam::1:role/path/b",
        )]);
        assert_eq!(
            e.role_arns("TOURNIQUET_ROLE_ARNS").unwrap(),
            vec!["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/path/b"]
        );
        for bad in [
            "arn:aws:iam::1:user/bob",
            "role/a",
            "arn:aws:sts::1:assumed-role/a/s",
        ] {
            let e = env(&[("TOURNIQUET_ROLE_ARNS", bad)]);
            assert!(
                matches!(
                    e.role_arns("TOURNIQUET_ROLE_ARNS"),
                    Err(ConfigError::Invalid {
                        name: "TOURNIQUET_ROLE_ARNS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_values_are_named() {
        let e = env(&[("DRY_RUN", "maybe"), ("LIMIT", "-1"), ("WINDOW", "0")]);
        assert!(
            e.bool_or("DRY_RUN", false)
                .unwrap_err()
                .to_string()
                .contains("DRY_RUN=\"maybe\"")
        );
        assert!(matches!(
            e.u32_or("LIMIT", 3),
            Err(ConfigError::Invalid { name: "LIMIT", .. })
        ));
        assert!(matches!(
            e.duration_or("WINDOW", 60, 60),
            Err(ConfigError::Invalid { name: "WINDOW", .. })
        ));
        assert_eq!(
            e.duration_or("UNSET", 60, 60).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(e.u32_or("UNSET", 0).unwrap(), 0);
    }
}
