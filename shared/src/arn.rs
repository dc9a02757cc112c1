//! ARNs, read in one place: `arn:<partition>:<service>:<region>:<account>:<resource>`.

/// The parts of an ARN, borrowed from it. A global resource's region is empty (IAM), and so
/// is a bucket's account (S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// An EC2 instance id: `i-` and 8 or 17 lowercase hex digits.
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl<'a> Arn<'a> {
    /// The parts of `s`, or `None` unless it has the six of an ARN.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        Some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// A twelve-digit AWS account id.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_parts_and_nothing_less() {
        let a = Arn::parse("arn:aws:ec2:eu-west-1:222222222222:instance/i-1").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            ("aws", "ec2", "eu-west-1", "222222222222", "instance/i-1")
        );
        let role = Arn::parse("arn:aws-cn:iam::1:role/a:b").unwrap();
        assert_eq!((role.region, role.resource), ("", "role/a:b"));
        assert_eq!(Arn::parse("i-0abc"), None);
        assert_eq!(Arn::parse("arn:aws:s3"), None);
    }
}
