"""Seeding the local AWS emulator, for the demo and the benchmarks: the framework's table,
topic and on-call queue, and a VPC with the resources a function acts on."""

import json
import os

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
AMI = "ami-0123456789abcdef0"
TABLE = "tourniquet-history"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:tourniquet-alerts"


def aws(service, endpoint=None, account=None):
    """A client of the emulator; in `account`, as its administrator (the emulator keeps
    accounts apart by credentials: a role assumed in an account acts there)."""
    endpoint = endpoint or os.environ["AWS_ENDPOINT_URL"]
    if account is None or account == ACCOUNT:
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION)
    creds = boto3.client("sts", endpoint_url=endpoint, region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed")["Credentials"]
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def framework():
    """The history table, the alert topic and a queue subscribed to it; returns the queue URL."""
    ddb, sns, sqs = aws("dynamodb"), aws("sns"), aws("sqs")
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    topic = sns.create_topic(Name="tourniquet-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:on-call")
    return queue


def network(account=None):
    """A VPC with two subnets in two zones; returns (vpc, subnets)."""
    ec2 = aws("ec2", account=account)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for c, az in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")]]
    return vpc, subnets


def security_group(vpc, name, account=None):
    return aws("ec2", account=account).create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]


def instance_profile(role, profile, account=None):
    """A role for EC2 in an instance profile; returns the profile's ARN."""
    iam = aws("iam", account=account)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    arn = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    return arn


def launch(subnet, group, count=1, name=None, profile=None, tags=(), volumes=1, second_interface=False,
           account=None):
    """Instances with `volumes` EBS volumes (and a second network interface); returns their ids."""
    ec2 = aws("ec2", account=account)
    tag_list = [{"Key": k, "Value": v} for k, v in tags] + ([{"Key": "Name", "Value": name}] if name else [])
    args = dict(ImageId=AMI, InstanceType="t3.micro", MinCount=count, MaxCount=count, SubnetId=subnet,
                SecurityGroupIds=[group],
                BlockDeviceMappings=[{"DeviceName": d, "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}
                                     for d in ["/dev/sda1", "/dev/sdf", "/dev/sdg"][:volumes]])
    if tag_list:
        args["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tag_list}]
    if profile:
        args["IamInstanceProfile"] = {"Arn": profile}
    ids = [i["InstanceId"] for i in ec2.run_instances(**args)["Instances"]]
    if second_interface:
        for instance in ids:
            eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
            ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance,
                                         DeviceIndex=1)
    return ids


class ChatChannel:
    """A chat channel's view of the topic: a loopback HTTP endpoint subscribed to it, as AWS
    Chatbot subscribes over HTTPS. HTTP subscribers get the message's default text, which
    Tourniquet makes the same chat document as its https text."""

    def __init__(self):
        import http.server
        import threading

        posts = self.posts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append(json.loads(json.loads(body)["Message"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:tourniquet-alerts"
        aws("sns").subscribe(TopicArn=topic, Protocol="http",
                             Endpoint=f"http://127.0.0.1:{server.server_address[1]}/chat")


def notifications(queue):
    """Every SNS message delivered to the queue so far, as SNS's JSON envelopes."""
    sqs = aws("sqs")
    received = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return received
        for m in batch:
            received.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
