//! isolate-instance's own variables.

use tourniquet::config::{ConfigError, Env};
use tourniquet::safeguard::SafeguardPolicy;

#[derive(Debug, Clone, PartialEq)]
pub struct IsolateConfig {
    pub taint_key: String,
    pub exempt_key: String,
    pub safeguard: SafeguardPolicy,
    /// The quarantine group's name in each VPC; the allow-all group is `<name>-allow-all`.
    pub quarantine_group: String,
    /// GuardDuty findings at or above this severity isolate their instance.
    pub guardduty_min_severity: f64,
    /// Prefixes of the finding types that isolate; empty: every type.
    pub guardduty_types: Vec<String>,
}

impl IsolateConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            taint_key: env.string_or("TAINT_TAG_KEY", "Tainted"),
            exempt_key: env.string_or("EXEMPT_TAG_KEY", "TourniquetExempt"),
            safeguard: SafeguardPolicy {
                kind: "isolate",
                limit: env.u32_or("ISOLATION_LIMIT", 3)?,
                total: env.u32_or(
                    "ISOLATION_LIMIT_TOTAL",
                    SafeguardPolicy::default_total(env.u32_or("ISOLATION_LIMIT", 3)?),
                )?,
                window: env.duration_or("ISOLATION_WINDOW_MINUTES", 60, 60)?,
            },
            quarantine_group: env.string_or("QUARANTINE_SG_NAME", "tourniquet-quarantine"),
            guardduty_min_severity: env.f64_in(
                "GUARDDUTY_MIN_SEVERITY",
                7.0,
                0.0..=10.0,
                "a severity from 0 to 10",
            )?,
            guardduty_types: env.words("GUARDDUTY_FINDING_TYPES"),
        })
    }

    pub fn allow_all_group(&self) -> String {
        format!("{}-allow-all", self.quarantine_group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn defaults_follow_the_contract() {
        let c = IsolateConfig::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(c.taint_key, "Tainted");
        assert_eq!(c.exempt_key, "TourniquetExempt");
        assert_eq!(c.safeguard.limit, 3);
        assert_eq!(c.safeguard.window, Duration::from_secs(3600));
        assert_eq!(c.quarantine_group, "tourniquet-quarantine");
        assert_eq!(c.allow_all_group(), "tourniquet-quarantine-allow-all");
        assert_eq!(c.guardduty_min_severity, 7.0);
        assert!(c.guardduty_types.is_empty());
    }

    #[test]
    fn guardduty_settings_are_checked() {
        let c = IsolateConfig::from_env(&Env::from_pairs([
            ("GUARDDUTY_MIN_SEVERITY", "4.5"),
            (
                "GUARDDUTY_FINDING_TYPES",
                "Backdoor:EC2/, ,CryptoCurrency:EC2/",
            ),
        ]))
        .unwrap();
        assert_eq!(c.guardduty_min_severity, 4.5);
        assert_eq!(c.guardduty_types, ["Backdoor:EC2/", "CryptoCurrency:EC2/"]);
        for bad in ["high", "11", "-1"] {
            let e = IsolateConfig::from_env(&Env::from_pairs([("GUARDDUTY_MIN_SEVERITY", bad)]));
            assert!(
                e.unwrap_err()
                    .to_string()
                    .contains("GUARDDUTY_MIN_SEVERITY"),
                "{bad}"
            );
        }
    }

    #[test]
    fn limit_zero_is_allowed_window_zero_is_not() {
        let c = IsolateConfig::from_env(&Env::from_pairs([("ISOLATION_LIMIT", "0")])).unwrap();
        assert_eq!(c.safeguard.limit, 0);
        let e = IsolateConfig::from_env(&Env::from_pairs([("ISOLATION_WINDOW_MINUTES", "0")]));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("ISOLATION_WINDOW_MINUTES")
        );
    }
}
