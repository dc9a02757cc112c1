//! AWS clients, built once per cold start from one shared configuration, so that the SDK's
//! own variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`) steer every client alike:
//! the same code talks to AWS in Lambda and to a local emulator in tests.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Bounds on every AWS call: a containment step that hangs must fail and be reported well
/// inside the function's timeout, not take the invocation down with it.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// Loads the shared SDK configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

/// The clients the framework itself needs.
#[derive(Debug, Clone)]
pub struct FrameworkClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
}

impl FrameworkClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
        }
    }
}
