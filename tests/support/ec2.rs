//! EC2 seeding: instances in the emulator's default VPC.

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

/// A well-formed AMI id; the emulator does not validate AMIs.
pub const AMI: &str = "ami-0123456789abcdef0";

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Launches `count` instances carrying `tags` and returns their ids.
pub async fn launch(sdk: &SdkConfig, count: i32, tags: &[(&str, &str)]) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let mut run = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(count)
        .max_count(count);
    if !tags.is_empty() {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(tag(k, v));
        }
        run = run.tag_specifications(spec.build());
    }
    run.send()
        .await
        .expect("run instances")
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect()
}

/// The tags of an instance, as a map.
pub async fn tags_of(
    sdk: &SdkConfig,
    instance_id: &str,
) -> std::collections::BTreeMap<String, String> {
    let out = aws_sdk_ec2::Client::new(sdk)
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .expect("describe instance");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.tags())
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}
