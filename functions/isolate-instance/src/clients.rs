//! The AWS clients isolation uses, one set per account and region acted in.

use aws_config::SdkConfig;

/// The AWS clients isolation uses, built once per cold start.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub iam: aws_sdk_iam::Client,
    pub guardduty: aws_sdk_guardduty::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancing::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            guardduty: aws_sdk_guardduty::Client::new(sdk),
        }
    }
}
