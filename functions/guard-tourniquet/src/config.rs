//! What the guard guards, read from its environment.

use std::collections::BTreeMap;

use tourniquet::config::{ConfigError, Env};
use tourniquet::own::OwnResources;

use crate::lambdas;

/// What the guard guards, and the stack's values of the settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    pub own: OwnResources,
    pub settings: BTreeMap<String, String>,
    /// This stack (`STACK_NAME`): its deploys change Tourniquet's resources on purpose.
    pub stack_name: Option<String>,
}

impl GuardConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let stack_name = env.string_or("STACK_NAME", "");
        Ok(Self {
            own: OwnResources::from_env(env)?,
            settings: lambdas::stack_settings(env),
            stack_name: (!stack_name.is_empty()).then_some(stack_name),
        })
    }
}
