//! disable-offender's own variables.

use std::time::Duration;

use tourniquet::config::{ConfigError, Env};
use tourniquet::safeguard::SafeguardPolicy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisableConfig {
    /// Disable when a principal has more offenses than this in the window (0: the first).
    pub offense_limit: u32,
    pub offense_window: Duration,
    pub safeguard: SafeguardPolicy,
}

impl DisableConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            offense_limit: env.u32_or("OFFENSE_LIMIT", 1)?,
            offense_window: env.duration_or("OFFENSE_WINDOW_DAYS", 30, 86_400)?,
            safeguard: SafeguardPolicy {
                kind: "disable",
                limit: env.u32_or("DISABLE_LIMIT", 2)?,
                window: env.duration_or("DISABLE_WINDOW_MINUTES", 60, 60)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let c = DisableConfig::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(c.offense_limit, 1);
        assert_eq!(c.offense_window, Duration::from_secs(30 * 86_400));
        assert_eq!(c.safeguard.limit, 2);
        assert_eq!(c.safeguard.window, Duration::from_secs(3600));
        let bad = DisableConfig::from_env(&Env::from_pairs([("OFFENSE_LIMIT", "two")]));
        assert!(bad.unwrap_err().to_string().contains("OFFENSE_LIMIT"));
    }
}
