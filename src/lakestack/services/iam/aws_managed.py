"""AWS managed policies every account can attach (`arn:aws:iam::aws:policy/…`).

Only the commonly used ones are here. ReadOnlyAccess is an approximation: AWS's version
lists thousands of actions service by service; reading by verb prefix grants the same for
the services lakestack serves.
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    description: str
    statements: tuple[dict, ...]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"

    @property
    def document(self) -> dict:
        return {"Version": "2012-10-17", "Statement": list(self.statements)}


def _allow(actions: list[str], resource: str | list[str] = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


AWS_MANAGED_POLICIES: tuple[AwsManagedPolicy, ...] = (
    AwsManagedPolicy("AdministratorAccess", "/", "Provides full access to AWS services and resources.",
                     (_allow(["*"]),)),
    AwsManagedPolicy(
        "ReadOnlyAccess", "/", "Provides read-only access to AWS services and resources.",
        (_allow(["*:Get*", "*:List*", "*:Describe*", "*:BatchGet*", "s3:Get*", "s3:List*"]),),
    ),
    AwsManagedPolicy("AmazonS3FullAccess", "/", "Provides full access to all buckets via the AWS Management "
                     "Console.", (_allow(["s3:*", "s3-object-lambda:*"]),)),
    AwsManagedPolicy(
        "AmazonS3ReadOnlyAccess", "/", "Provides read only access to all buckets via the AWS Management Console.",
        (_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"]),),
    ),
    AwsManagedPolicy("IAMFullAccess", "/", "Provides full access to IAM via the AWS Management Console.",
                     (_allow(["iam:*", "organizations:DescribeAccount", "organizations:DescribeOrganization",
                              "organizations:DescribeOrganizationalUnit", "organizations:DescribePolicy",
                              "organizations:ListChildren", "organizations:ListParents",
                              "organizations:ListPoliciesForTarget", "organizations:ListRoots",
                              "organizations:ListPolicies", "organizations:ListTargetsForPolicy"]),)),
    AwsManagedPolicy(
        "AWSLambdaBasicExecutionRole", "/service-role/", "Provides write permissions to CloudWatch Logs.",
        (_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]),),
    ),
    AwsManagedPolicy(
        "AWSLambdaKinesisExecutionRole", "/service-role/", "Provides list and read access to Kinesis streams "
        "and write permissions to CloudWatch Logs.",
        (_allow(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                 "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams",
                 "kinesis:SubscribeToShard", "logs:CreateLogGroup", "logs:CreateLogStream",
                 "logs:PutLogEvents"]),),
    ),
    # As AWS's: Glue itself, read of the bucket list, and objects only in aws-glue-* buckets
    # (crawlers over other buckets need their own S3 policy, exactly as on AWS).
    AwsManagedPolicy(
        "AWSGlueServiceRole", "/service-role/", "Policy for AWS Glue service role which allows access to "
        "related services including EC2, S3, and Cloudwatch Logs",
        (
            _allow(["glue:*", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListAllMyBuckets", "s3:GetBucketAcl",
                    "iam:ListRolePolicies", "iam:GetRole", "iam:GetRolePolicy", "cloudwatch:PutMetricData"]),
            _allow(["s3:CreateBucket"], "arn:aws:s3:::aws-glue-*"),
            _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                   ["arn:aws:s3:::aws-glue-*/*", "arn:aws:s3:::*/*aws-glue-*/*"]),
            _allow(["s3:GetObject"], ["arn:aws:s3:::crawler-public*", "arn:aws:s3:::aws-glue-*"]),
            _allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                   "arn:aws:logs:*:*:*:/aws-glue/*"),
        ),
    ),
)
