//! AWS clients, built once per cold start from one shared configuration, so that the SDK's
//! own variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`) steer every client alike:
//! the same code talks to AWS in Lambda and to a local emulator in tests.

use aws_config::SdkConfig;

/// Loads the shared SDK configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::load_from_env().await
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
