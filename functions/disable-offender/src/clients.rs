//! The AWS clients the disable uses in one account.

use aws_sdk_iam::Client;

/// The clients of one account.
#[derive(Debug, Clone)]
pub struct Clients {
    pub(crate) iam: Client,
    pub(crate) cloudtrail: aws_sdk_cloudtrail::Client,
    pub(crate) ec2: aws_sdk_ec2::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            iam: Client::new(sdk),
            cloudtrail: aws_sdk_cloudtrail::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }
}
