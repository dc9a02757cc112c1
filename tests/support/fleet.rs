//! A small production account on the emulator: an Auto Scaling group of 3 web instances
//! behind an ALB target group and a Classic Load Balancer, and a standalone bastion with two
//! network interfaces, an instance profile and two volumes, registered by IP in an
//! IP-type target group.

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, IamInstanceProfileSpecification, InstanceType,
    RequestLaunchTemplateData, ResourceType, TagSpecification,
};
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetTypeEnum};

use crate::ec2::{AMI, tag};

pub struct Fleet {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub web_group: String,
    pub bastion_group: String,
    pub asg: String,
    pub web: Vec<String>,
    pub target_group: String,
    pub ip_target_group: String,
    pub classic_elb: String,
    pub bastion: String,
    pub bastion_enis: Vec<String>,
    pub bastion_ip: String,
    pub bastion_role: String,
    pub bastion_profile_arn: String,
}

fn ec2(sdk: &SdkConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(sdk)
}

async fn security_group(sdk: &SdkConfig, vpc: &str, name: &str) -> String {
    ec2(sdk)
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc)
        .send()
        .await
        .expect("create security group")
        .group_id
        .expect("group id")
}

/// Seeds the account.
pub async fn seed(sdk: &SdkConfig) -> Fleet {
    let ec2 = ec2(sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("vpc id");
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        subnets.push(
            ec2.create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .expect("subnet")
                .subnet
                .and_then(|s| s.subnet_id)
                .expect("subnet id"),
        );
    }
    let web_group = security_group(sdk, &vpc, "web").await;
    let bastion_group = security_group(sdk, &vpc, "bastion").await;

    // Load balancing: an ALB with an instance target group, an IP target group, a Classic ELB.
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    elbv2
        .create_load_balancer()
        .name("web-alb")
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("alb");
    let target_group = |name: &'static str, kind: TargetTypeEnum| {
        elbv2
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .target_type(kind)
            .send()
    };
    let tg_arn = |out: aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput| {
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .expect("target group arn")
            .to_owned()
    };
    let web_tg = tg_arn(
        target_group("web", TargetTypeEnum::Instance)
            .await
            .expect("web tg"),
    );
    let ip_tg = tg_arn(
        target_group("bastion-ip", TargetTypeEnum::Ip)
            .await
            .expect("ip tg"),
    );
    aws_sdk_elasticloadbalancing::Client::new(sdk)
        .create_load_balancer()
        .load_balancer_name("web-classic")
        .listeners(
            aws_sdk_elasticloadbalancing::types::Listener::builder()
                .protocol("HTTP")
                .load_balancer_port(80)
                .instance_port(80)
                .build()
                .expect("listener"),
        )
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("classic elb");

    // The web tier: an Auto Scaling group of 3 behind both load balancers.
    ec2.create_launch_template()
        .launch_template_name("web")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(AMI)
                .instance_type(InstanceType::T3Micro)
                .security_group_ids(&web_group)
                .build(),
        )
        .send()
        .await
        .expect("launch template");
    let autoscaling = aws_sdk_autoscaling::Client::new(sdk);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("web")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name("web")
                .version("$Latest")
                .build(),
        )
        .min_size(3)
        .max_size(6)
        .desired_capacity(3)
        .vpc_zone_identifier(subnets.join(","))
        .target_group_arns(&web_tg)
        .load_balancer_names("web-classic")
        .send()
        .await
        .expect("asg");
    let web = asg_members(sdk, "web").await;
    assert_eq!(web.len(), 3, "the emulator launched the web tier");

    // The bastion: an instance profile, two volumes, two network interfaces.
    let iam = aws_sdk_iam::Client::new(sdk);
    iam.create_role()
        .role_name("bastion-role")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let profile_arn = iam
        .create_instance_profile()
        .instance_profile_name("bastion-profile")
        .send()
        .await
        .expect("instance profile")
        .instance_profile
        .map(|p| p.arn)
        .expect("profile arn");
    iam.add_role_to_instance_profile()
        .instance_profile_name("bastion-profile")
        .role_name("bastion-role")
        .send()
        .await
        .expect("role in profile");
    let ebs = |size| {
        EbsBlockDevice::builder()
            .volume_size(size)
            .delete_on_termination(true)
            .build()
    };
    let bastion = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnets[0])
        .security_group_ids(&bastion_group)
        .iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .arn(&profile_arn)
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(ebs(8))
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sdf")
                .ebs(ebs(20))
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(tag("Name", "bastion"))
                .build(),
        )
        .send()
        .await
        .expect("bastion")
        .instances
        .and_then(|i| i.into_iter().next())
        .expect("bastion instance");
    let bastion_id = bastion.instance_id.clone().expect("bastion id");
    let bastion_ip = bastion.private_ip_address.clone().expect("bastion ip");
    let second_eni = ec2
        .create_network_interface()
        .subnet_id(&subnets[0])
        .groups(&bastion_group)
        .send()
        .await
        .expect("eni")
        .network_interface
        .and_then(|n| n.network_interface_id)
        .expect("eni id");
    ec2.attach_network_interface()
        .network_interface_id(&second_eni)
        .instance_id(&bastion_id)
        .device_index(1)
        .send()
        .await
        .expect("attach eni");
    elbv2
        .register_targets()
        .target_group_arn(&ip_tg)
        .targets(
            TargetDescription::builder()
                .id(&bastion_ip)
                .port(22)
                .build(),
        )
        .send()
        .await
        .expect("register bastion ip");
    let bastion_enis = interfaces(sdk, &bastion_id).await;
    assert_eq!(bastion_enis.len(), 2, "the bastion has two interfaces");

    Fleet {
        vpc,
        subnets,
        web_group,
        bastion_group,
        asg: "web".into(),
        web,
        target_group: web_tg,
        ip_target_group: ip_tg,
        classic_elb: "web-classic".into(),
        bastion: bastion_id,
        bastion_enis,
        bastion_ip,
        bastion_role: "bastion-role".into(),
        bastion_profile_arn: profile_arn,
    }
}

/// The instances of an Auto Scaling group.
pub async fn asg_members(sdk: &SdkConfig, name: &str) -> Vec<String> {
    let out = aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe asg");
    out.auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect()
}

pub async fn desired_capacity(sdk: &SdkConfig, name: &str) -> i32 {
    aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe asg")
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.desired_capacity())
        .expect("desired capacity")
}

/// The target ids registered in a target group.
pub async fn targets(sdk: &SdkConfig, arn: &str) -> Vec<String> {
    aws_sdk_elasticloadbalancingv2::Client::new(sdk)
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .expect("target health")
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect()
}

pub async fn classic_members(sdk: &SdkConfig, name: &str) -> Vec<String> {
    aws_sdk_elasticloadbalancing::Client::new(sdk)
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await
        .expect("describe classic elb")
        .load_balancer_descriptions()
        .iter()
        .flat_map(|lb| lb.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect()
}

/// An instance's network interfaces.
pub async fn interfaces(sdk: &SdkConfig, instance: &str) -> Vec<String> {
    let out = ec2(sdk)
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.instance-id")
                .values(instance)
                .build(),
        )
        .send()
        .await
        .expect("describe enis");
    let mut ids: Vec<String> = out
        .network_interfaces()
        .iter()
        .filter_map(|n| n.network_interface_id().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The security groups of one network interface.
pub async fn interface_groups(sdk: &SdkConfig, eni: &str) -> Vec<String> {
    ec2(sdk)
        .describe_network_interfaces()
        .network_interface_ids(eni)
        .send()
        .await
        .expect("describe eni")
        .network_interfaces()
        .iter()
        .flat_map(|n| n.groups())
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect()
}

/// Security groups with this name, with their inbound and outbound rule counts.
/// The ids of the groups called `name` in `vpc`.
pub async fn groups_named_in(sdk: &SdkConfig, name: &str, vpc: &str) -> Vec<String> {
    ec2(sdk)
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(name)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .expect("describe groups")
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect()
}

pub async fn groups_named(sdk: &SdkConfig, name: &str) -> Vec<(String, usize, usize)> {
    ec2(sdk)
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .expect("describe groups")
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_owned(),
                g.ip_permissions().len(),
                g.ip_permissions_egress().len(),
            )
        })
        .collect()
}

/// Tags an instance, as the compromised host's `pam_exec` hook would.
pub async fn taint(sdk: &SdkConfig, instances: &[String], key: &str) {
    ec2(sdk)
        .create_tags()
        .set_resources(Some(instances.to_vec()))
        .tags(tag(key, "unexpected ssh login"))
        .send()
        .await
        .expect("taint");
}
