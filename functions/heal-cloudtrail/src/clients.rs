//! The clients of one account and region, as heal-cloudtrail uses them: built once per
//! account and region (in a `PerScope`), with clients for another region on demand.

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudtrail::Client;

use crate::bucket;

/// The clients of one account: for the region reached, used unless a trail, its bucket or
/// its key lives elsewhere. Built once per account and region.
#[derive(Debug, Clone)]
pub struct Clients {
    pub(crate) sdk: SdkConfig,
    pub(crate) client: Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) kms: aws_sdk_kms::Client,
    region: String,
}

impl Clients {
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
