"""A short S3/STS/IAM/Glue/Athena scenario through boto3 against a real lakestack: what `make demo`
runs until the e-bike pipeline lands. It is also a readable example of the API."""

from __future__ import annotations

import json
import time

import click
from botocore.exceptions import ClientError

import lakestack


def run(home=None) -> None:
    with lakestack.local(home=home) as stack:
        say = click.echo
        say(f"lakestack running at {stack.endpoint_url} (data in {stack.home})")
        sts = stack.client("sts")
        who = sts.get_caller_identity()
        say(f"1. STS GetCallerIdentity -> {who['Arn']} (account {who['Account']})")

        s3 = stack.client("s3")
        s3.create_bucket(Bucket="ebike-lake")
        s3.put_object(Bucket="ebike-lake", Key="landing/stations.csv",
                      Body=b"station_id,name,lat,lon\nst-1,Central,52.52,13.40\nst-2,Harbour,52.50,13.45\n",
                      ContentType="text/csv")
        say("2. S3 created bucket ebike-lake and put landing/stations.csv")
        listing = s3.list_objects_v2(Bucket="ebike-lake", Prefix="landing/")
        for obj in listing.get("Contents", []):
            say(f"   {obj['Key']}  {obj['Size']} bytes  ETag {obj['ETag']}")
        body = s3.get_object(Bucket="ebike-lake", Key="landing/stations.csv")["Body"].read()
        say(f"3. S3 GetObject read back {len(body)} bytes; the lake file is plain: "
            f"{stack.home / 's3' / 'ebike-lake' / 'landing' / 'stations.csv'}"
            + ("" if home else " (a temporary folder; `lakestack demo --home DIR` keeps it)"))

        iam = stack.client("iam")
        iam.create_user(UserName="analyst")
        key = iam.create_access_key(UserName="analyst")["AccessKey"]
        analyst = stack.client("s3", aws_access_key_id=key["AccessKeyId"],
                               aws_secret_access_key=key["SecretAccessKey"])
        try:
            analyst.list_buckets()
            say("4. analyst listed buckets without a policy (unexpected!)")
        except ClientError as err:
            say(f"4. IAM user 'analyst' without a policy: ListBuckets -> {err.response['Error']['Code']}")
        iam.put_user_policy(UserName="analyst", PolicyName="list", PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets",'
            '"Resource":"*"}]}'))
        names = [b["Name"] for b in analyst.list_buckets()["Buckets"]]
        say(f"5. after attaching a policy allowing s3:ListAllMyBuckets: {names}")
        catalog_and_query(stack, say)
        say("done: everything above ran through the real AWS wire protocols, SigV4 and IAM.")


def catalog_and_query(stack, say) -> None:
    """A Glue crawler finds the CSV's table; Athena queries it."""
    iam, glue, athena = stack.client("iam"), stack.client("glue"), stack.client("athena")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "glue.amazonaws.com"}}]}
    role = iam.create_role(RoleName="demo-crawler", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.attach_role_policy(RoleName="demo-crawler",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole")
    iam.put_role_policy(RoleName="demo-crawler", PolicyName="read-lake", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                  "Resource": ["arn:aws:s3:::ebike-lake", "arn:aws:s3:::ebike-lake/*"]}]}))
    glue.create_database(DatabaseInput={"Name": "ebikes"})
    glue.create_crawler(Name="landing", Role=role["Arn"], DatabaseName="ebikes",
                        Targets={"S3Targets": [{"Path": "s3://ebike-lake/landing/"}]})
    glue.start_crawler(Name="landing")
    while glue.get_crawler(Name="landing")["Crawler"]["State"] != "READY":
        time.sleep(0.1)
    tables = glue.get_tables(DatabaseName="ebikes")["TableList"]
    for table in tables:
        columns = ", ".join(f"{c['Name']} {c['Type']}" for c in table["StorageDescriptor"]["Columns"])
        say(f"6. Glue crawler found table ebikes.{table['Name']} ({columns})")
    query = athena.start_query_execution(
        QueryString=f"SELECT name, lat, lon FROM {tables[0]['Name']} ORDER BY name",
        QueryExecutionContext={"Database": "ebikes"},
        ResultConfiguration={"OutputLocation": "s3://ebike-lake/athena-results/"})["QueryExecutionId"]
    while (state := athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"]) in (
            "QUEUED", "RUNNING"):
        time.sleep(0.05)
    rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
    say(f"7. Athena query {state}: " + "; ".join(
        ", ".join(cell.get("VarCharValue", "NULL") for cell in row["Data"]) for row in rows))
