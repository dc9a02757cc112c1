//! The IAM actions each step of a heal calls; `template.yaml` grants exactly these (and the
//! framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    Needs {
        step: "read the trail and its status",
        actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
        ],
    },
    Needs {
        step: "restart, restore or recreate the trail",
        actions: &[
            "cloudtrail:StartLogging",
            "cloudtrail:UpdateTrail",
            "cloudtrail:PutEventSelectors",
            "cloudtrail:CreateTrail",
        ],
    },
    Needs {
        step: "audit event data stores and start their ingestion again",
        actions: &[
            "cloudtrail:ListEventDataStores",
            "cloudtrail:GetEventDataStore",
            "cloudtrail:StartEventDataStoreIngestion",
            "cloudtrail:RestoreEventDataStore",
        ],
    },
    Needs {
        step: "read the trail's bucket and put it back",
        actions: &[
            "s3:ListBucket",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:GetBucketVersioning",
            "s3:PutBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
            "s3:PutBucketObjectLockConfiguration",
            "s3:CreateBucket",
        ],
    },
    Needs {
        step: "read the trail's KMS key and put it back",
        actions: &[
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:PutKeyPolicy",
            "kms:EnableKey",
            "kms:CancelKeyDeletion",
        ],
    },
    Needs {
        step: "give the trail back its CloudWatch Logs role",
        actions: &["iam:PassRole"],
    },
    Needs {
        step: "restore or recreate an organization trail",
        actions: &[
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
            "iam:GetRole",
            "iam:CreateServiceLinkedRole",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_grants_what_the_steps_declare_and_nothing_else() {
        let template = include_str!("../../../template.yaml");
        let checked =
            tourniquet::permissions::check(template, "HealCloudTrailFunction", PERMISSIONS);
        assert_eq!(checked, Ok(()));
    }
}
