//! The clients of each account acted in, built once per account and region, and which
//! account an ARN names.

use std::sync::Arc;

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudtrail::Client;
use tourniquet::members::{Members, PerScope, Scope};

use crate::bucket;

/// The clients of one account: for the region reached, used unless a trail, its bucket or
/// its key lives elsewhere. Built once per account and region.
#[derive(Debug, Clone)]
pub struct Reach {
    pub(crate) sdk: SdkConfig,
    pub(crate) client: Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) kms: aws_sdk_kms::Client,
    region: String,
}

impl Reach {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            sdk: sdk.clone(),
        }
    }

    /// A client for a trail's home region (validated when the trail was resolved).
    pub(crate) fn client_for(&self, region: &str) -> Client {
        if region == self.region {
            return self.client.clone();
        }
        let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        Client::from_conf(conf)
    }

    /// An S3 client for a trail's home region, where its bucket usually is.
    pub(crate) fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            self.s3.clone()
        } else {
            bucket::client_in(&self.sdk, region)
        }
    }
}

/// Every account's reach (the function's own built at cold start), and the accounts.
pub struct Reaches {
    per_scope: PerScope<Reach>,
    members: Arc<Members>,
}

impl Reaches {
    pub fn new(members: Arc<Members>, sdk: &SdkConfig) -> Self {
        Self {
            per_scope: PerScope::new(members.clone(), sdk, Reach::new),
            members,
        }
    }

    pub fn members(&self) -> &Members {
        &self.members
    }

    /// The clients of an account, in a region; the error says why it cannot be reached.
    pub async fn of(&self, scope: &Scope) -> Result<Reach, String> {
        self.per_scope.get(scope).await.map_err(|e| e.to_string())
    }

    /// The clients of the account an ARN names (a trail, a store), in its region.
    pub async fn of_arn(&self, arn: &str) -> Result<Reach, String> {
        let scope = self.members.scope_of_key(arn);
        self.of(&scope).await
    }
}
