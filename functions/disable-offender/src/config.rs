//! disable-offender's own variables.

use std::time::Duration;

use tourniquet::config::{ConfigError, Env};
use tourniquet::own::OwnResources;
use tourniquet::safeguard::SafeguardPolicy;

/// What disabling an assumed-role offender denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDisableMode {
    /// Every session of the role issued before now (`aws:TokenIssueTime`), whatever its
    /// name: a session name is chosen by whoever assumes the role.
    SessionsBeforeNow,
    /// Only the offending session (`aws:userid`).
    ThisSession,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisableConfig {
    /// Disable when a principal has more offenses than this in the window (0: the first).
    pub offense_limit: u32,
    pub offense_window: Duration,
    pub safeguard: SafeguardPolicy,
    pub role_mode: RoleDisableMode,
    /// Tourniquet's own resources: a call that disarms one is an offense.
    pub own: OwnResources,
    /// The tag that has isolate-instance isolate an instance (`TAINT_TAG_KEY`): an instance
    /// whose credentials offend is tainted with it.
    pub taint_key: String,
}

impl DisableConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            offense_limit: env.u32_or("OFFENSE_LIMIT", 1)?,
            offense_window: env.duration_or("OFFENSE_WINDOW_DAYS", 30, 86_400)?,
            safeguard: SafeguardPolicy {
                kind: "disable",
                limit: env.u32_or("DISABLE_LIMIT", 2)?,
                total: env.u32_or(
                    "DISABLE_LIMIT_TOTAL",
                    SafeguardPolicy::default_total(env.u32_or("DISABLE_LIMIT", 2)?),
                )?,
                window: env.duration_or("DISABLE_WINDOW_MINUTES", 60, 60)?,
            },
            own: OwnResources::from_env(env)?,
            taint_key: env.string_or("TAINT_TAG_KEY", "Tainted"),
            role_mode: match env
                .string_or("ROLE_DISABLE_MODE", "sessions-before-now")
                .as_str()
            {
                "sessions-before-now" => RoleDisableMode::SessionsBeforeNow,
                "this-session" => RoleDisableMode::ThisSession,
                other => {
                    return Err(ConfigError::Invalid {
                        name: "ROLE_DISABLE_MODE",
                        value: other.to_owned(),
                        expected: "sessions-before-now or this-session",
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables every function has (the framework requires them), and `extra`.
    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("HISTORY_TABLE", "t"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:a"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = DisableConfig::from_env(&env(&[])).unwrap();
        assert_eq!(c.offense_limit, 1);
        assert_eq!(c.offense_window, Duration::from_secs(30 * 86_400));
        assert_eq!(c.safeguard.limit, 2);
        assert_eq!(c.safeguard.window, Duration::from_secs(3600));
        assert_eq!(c.role_mode, RoleDisableMode::SessionsBeforeNow);
        let one = DisableConfig::from_env(&env(&[("ROLE_DISABLE_MODE", "this-session")]));
        assert_eq!(one.unwrap().role_mode, RoleDisableMode::ThisSession);
        let bad = DisableConfig::from_env(&env(&[("ROLE_DISABLE_MODE", "all")]));
        assert!(bad.unwrap_err().to_string().contains("ROLE_DISABLE_MODE"));
        let bad = DisableConfig::from_env(&env(&[("OFFENSE_LIMIT", "two")]));
        assert!(bad.unwrap_err().to_string().contains("OFFENSE_LIMIT"));
        let bad = DisableConfig::from_env(&env(&[("GUARDED_KEYS", "k1")]));
        assert!(bad.unwrap_err().to_string().contains("GUARDED_KEYS"));
    }
}
