//! What every remediation gets from the framework, built once per cold start.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clients::FrameworkClients;
use crate::config::{CommonConfig, ConfigError, Env};
use crate::errors::sdk_message;
use crate::exempt::Exemptions;
use crate::history::History;
use crate::members::Members;
use crate::notify::Notifier;
use crate::safeguard::{Safeguard, SafeguardPolicy};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot learn this function's own identity from STS GetCallerIdentity: {0}")]
    Identity(String),
}

/// What a remediation needs from the framework, built once per cold start.
#[derive(Debug, Clone)]
pub struct Framework {
    pub config: CommonConfig,
    pub sdk: SdkConfig,
    pub history: History,
    pub notifier: Notifier,
    pub exemptions: Exemptions,
    /// This function's own identity: as STS reports it, or, when the stack's roles are
    /// configured, the first of them (its partition and account are this function's).
    pub identity: String,
    /// The accounts and regions this function may act in, and how it reaches them.
    pub members: Arc<Members>,
}

impl Framework {
    /// Reads the configuration, builds the clients and learns the function's own identity:
    /// from `TOURNIQUET_ROLE_ARNS` when the template sets it (no call at cold start), else
    /// from STS.
    pub async fn start(
        function: &'static str,
        env: &Env,
        sdk: SdkConfig,
    ) -> Result<Self, StartupError> {
        let config = CommonConfig::from_env(function, env)?;
        if let Some(first) = config.tourniquet_roles.first() {
            let identity = first.clone();
            return Ok(Self::assemble(config, sdk, identity));
        }
        let clients = FrameworkClients::new(&sdk);
        let caller = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| StartupError::Identity(sdk_message(&e)))?;
        let identity = caller
            .arn()
            .ok_or_else(|| StartupError::Identity("the answer carries no ARN".into()))?
            .to_owned();
        Ok(Self::assemble(config, sdk, identity))
    }

    /// The framework from a configuration and a known identity, with no call made: clients
    /// are built, not used.
    pub fn assemble(config: CommonConfig, sdk: SdkConfig, identity: String) -> Self {
        let clients = FrameworkClients::new(&sdk);
        let function = config.function;
        let members = Arc::new(Members::new(
            function,
            config.members.clone(),
            sdk.clone(),
            &identity,
        ));
        Self {
            history: History::new(clients.dynamodb, config.history_table.clone()),
            notifier: Notifier::new(
                clients.sns,
                config.alert_topic_arn.clone(),
                function,
                members.home().clone(),
            ),
            exemptions: Exemptions::new(
                config.protected_principals.clone(),
                &[std::slice::from_ref(&identity), &config.tourniquet_roles].concat(),
            ),
            members,
            identity,
            sdk,
            config,
        }
    }

    /// A safeguard for `policy`, counting dry runs apart from real actions.
    pub fn safeguard(&self, policy: SafeguardPolicy) -> Safeguard {
        Safeguard::new(self.history.clone(), policy, self.config.dry_run)
    }

    pub fn function(&self) -> &'static str {
        self.config.function
    }

    /// The partition of this function's own identity (`aws`, `aws-cn`, `aws-us-gov`), for
    /// building ARNs.
    pub fn partition(&self) -> &str {
        self.identity
            .split(':')
            .nth(1)
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
    }
}

/// A framework that reaches nothing, for unit tests of the decisions around it.
#[cfg(test)]
pub(crate) fn offline() -> Framework {
    use aws_config::{BehaviorVersion, Region};
    let config = CommonConfig {
        function: "fake",
        history_table: "tourniquet-history".into(),
        alert_topic_arn: "arn:aws:sns:us-east-1:123456789012:unused".into(),
        dry_run: false,
        protected_principals: Vec::new(),
        tourniquet_roles: Vec::new(),
        members: Default::default(),
        lease_margin: std::time::Duration::from_secs(30),
    };
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    Framework::assemble(
        config,
        sdk,
        "arn:aws:sts::123456789012:assumed-role/fake/fake".into(),
    )
}
