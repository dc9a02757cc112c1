"""The Tourniquet demo: a security incident on the local AWS emulator, told as a timeline.

Seeds a small production account on the emulator, then plays the incident by delivering the
events EventBridge would deliver to the real function binaries, served by a local Lambda
runtime (cargo lambda watch). Prints what happened, the notifications as the on-call engineer
receives them, and the final state. Exits non-zero if an outcome is not the expected one.

Run it with `make demo`, which starts the emulator and the runtime and sets the environment.
"""

import copy
import json
import os
import pathlib
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import seed
from seed import ACCOUNT, REGION, aws

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
INVOKE = os.environ["TOURNIQUET_INVOKE_URL"]
TRAIL = "org-audit"

BOLD, DIM, RED, GREEN, YELLOW, RESET = "\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = DIM = RED = GREEN = YELLOW = RESET = ""

START = time.monotonic()
FAILURES = []


def sample(path, **changes):
    event = json.loads((EVENTS / path).read_text())
    for key, value in changes.items():
        event[key] = value
    return event


def say(text):
    print(f"{DIM}[{time.monotonic() - START:7.2f}s]{RESET} {text}", flush=True)


def expect(condition, what):
    if condition:
        print(f"           {GREEN}ok{RESET}  {what}")
    else:
        print(f"           {RED}FAILED{RESET}  {what}")
        FAILURES.append(what)


# ------------------------------------------------------------------ invoking the functions


def invoke(function, event):
    """Invokes a function through the local Lambda runtime; returns (answer, ms, error)."""
    request = urllib.request.Request(
        f"{INVOKE}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read().decode()
            error = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as e:
        body, error = e.read().decode(), f"HTTP {e.code}"
    ms = (time.monotonic() - started) * 1000
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"raw": body}
    return answer, ms, error


def deliver(event, *functions):
    """Delivers one event to every function whose rule matches it, concurrently, as
    EventBridge fans it out; prints one timeline line per function."""
    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        results = list(pool.map(lambda f: (f, *invoke(f, event)), functions))
    outcomes = {}
    for function, answer, ms, error in results:
        if error:
            say(f"  {RED}{function}: function error{RESET} ({ms:.0f} ms): {answer}")
            FAILURES.append(f"{function} failed on {event.get('id')}")
            continue
        cases = answer.get("cases", [])
        if answer.get("ignored"):
            say(f"  {function}: nothing to do, {answer['ignored']} ({ms:.0f} ms)")
        for case in cases:
            outcome = case["outcome"]
            colour = {"remediated": GREEN, "held": RED, "exempt": RED, "partial": YELLOW}.get(outcome, "")
            detail = case.get("reason") or case.get("detail") or ""
            detail = detail.splitlines()[0] if detail else ""
            say(f"  {function}: {colour}{outcome}{RESET} {case['resource']}"
                f"{' - ' + detail if detail else ''} ({ms:.0f} ms)")
        outcomes[function] = cases
    return outcomes


def outcome_counts(cases):
    counts = {}
    for case in cases:
        counts[case["outcome"]] = counts.get(case["outcome"], 0) + 1
    return counts


# ------------------------------------------------------------------ the account


def seed_account():
    queue = seed.framework()
    elb, asg, iam = aws("elbv2"), aws("autoscaling"), aws("iam")
    vpc, subnets = seed.network()
    web_sg, bastion_sg = seed.security_group(vpc, "web"), seed.security_group(vpc, "bastion")
    elb.create_load_balancer(Name="web-alb", Subnets=subnets)
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    aws("ec2").create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": seed.AMI, "InstanceType": "t3.micro", "SecurityGroupIds": [web_sg]})
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
        MinSize=3, MaxSize=6, DesiredCapacity=3, VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[tg])
    web = [i["InstanceId"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]["Instances"]]
    # A fourth web server outside the group, registered by hand long ago.
    legacy = seed.launch(subnets[1], web_sg, name="web-legacy")[0]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": legacy, "Port": 80}])
    profile = seed.instance_profile("bastion-role", "bastion")
    bastion = seed.launch(subnets[0], bastion_sg, name="bastion", profile=profile)[0]

    s3, ct = aws("s3"), aws("cloudtrail")
    s3.create_bucket(Bucket="org-audit-logs")
    ct.create_trail(Name=TRAIL, S3BucketName="org-audit-logs", IsMultiRegionTrail=True,
                    IncludeGlobalServiceEvents=True, EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName=TRAIL, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    ct.start_logging(Name=TRAIL)
    for user in ["alice", "bob", "carol"]:
        iam.create_user(UserName=user)
        for _ in range(2):
            key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
            STOLEN.setdefault(user, key)
    return {"queue": queue, "web": web, "legacy": legacy, "bastion": bastion, "tg": tg}


# ------------------------------------------------------------------ the incident


def tagged(instance):
    tags = aws("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0].get("Tags", [])
    return {t["Key"]: t["Value"] for t in tags}


# The access key of each seeded user that CloudTrail records (disable-offender checks with IAM
# that a record's key is its user's).
STOLEN = {}


def alice(event):
    """The same event, made with alice's stolen access key."""
    event = copy.deepcopy(event)
    event["detail"]["userIdentity"] = json.loads((EVENTS / "disable-offender/stop-logging-by-user.json")
                                                 .read_text())["detail"]["userIdentity"]
    event["detail"]["userIdentity"]["accessKeyId"] = STOLEN["alice"]
    return event


def play(account):
    ec2, ct = aws("ec2"), aws("cloudtrail")
    bastion, web = account["bastion"], account["web"] + [account["legacy"]]

    print(f"\n{BOLD}06:00  the daily trail audit runs{RESET}")
    audit = deliver(sample("heal-cloudtrail/scheduled-audit.json"), "heal-cloudtrail")
    expect(outcome_counts(audit.get("heal-cloudtrail", [])).get("already-remediated") == 1,
           "the healthy trail is recorded as its own baseline")

    print(f"\n{BOLD}1. the bastion sees an unexpected SSH login and tags itself Tainted{RESET}")
    ec2.create_tags(Resources=[bastion], Tags=[{"Key": "Tainted", "Value": "unexpected ssh login"}])
    say(f"event: CreateTags Tainted on {bastion} by the bastion's own role (CloudTrail)")
    tags = sample("isolate-instance/create-tags.json")
    tags["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": bastion}]
    first = deliver(tags, "isolate-instance")
    say("event: Tag Change on Resource for the same tag (aws.tag), moments later")
    change = sample("isolate-instance/tag-change.json",
                    resources=[f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{bastion}"])
    second = deliver(change, "isolate-instance")
    expect(outcome_counts(first.get("isolate-instance", [])) == {"remediated": 1}, "the bastion is contained")
    expect(outcome_counts(second.get("isolate-instance", [])) == {"already-remediated": 1},
           "the second event for it is a no-op that says so")

    print(f"\n{BOLD}2. an attacker taints 4 web instances at once (ISOLATION_LIMIT=3 per hour){RESET}")
    ec2.create_tags(Resources=web, Tags=[{"Key": "Tainted", "Value": "yes"}])
    storm = alice(sample("isolate-instance/create-tags.json", id="5d7c0f4e-2b1a-4c9d-8e7f-6a5b4c3d2e1f"))
    storm["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": i} for i in web]
    say(f"event: CreateTags Tainted on {len(web)} web instances by alice's access key")
    result = outcome_counts(deliver(storm, "isolate-instance").get("isolate-instance", []))
    expect(result == {"remediated": 2, "held": 2},
           "the safeguard holds: 2 more isolated (3 this hour with the bastion), 2 left alone for a human")

    print(f"\n{BOLD}3. alice stops CloudTrail, then weakens it{RESET}")
    ct.stop_logging(Name=TRAIL)
    say("event: StopLogging org-audit by alice")
    stop = deliver(alice(sample("disable-offender/stop-logging-by-user.json")), "heal-cloudtrail",
                   "disable-offender")
    expect(outcome_counts(stop.get("heal-cloudtrail", [])) == {"remediated": 1}, "logging is back on")
    expect(outcome_counts(stop.get("disable-offender", [])) == {"noticed": 1}, "alice's first offense is counted")
    ct.update_trail(Name=TRAIL, EnableLogFileValidation=False)
    say("event: UpdateTrail org-audit (log file validation off) by alice")
    weaken = alice(sample("heal-cloudtrail/update-trail-validation-off.json"))
    again = deliver(weaken, "heal-cloudtrail", "disable-offender")
    expect(outcome_counts(again.get("heal-cloudtrail", [])) == {"remediated": 1}, "validation is restored")
    expect(outcome_counts(again.get("disable-offender", [])) == {"remediated": 1},
           "alice is disabled as a repeat offender")


def final_state(account):
    ec2, asg, ct, iam = aws("ec2"), aws("autoscaling"), aws("cloudtrail"), aws("iam")
    print(f"\n{BOLD}Final state{RESET}")
    quarantined = []
    for instance in [account["bastion"]] + account["web"] + [account["legacy"]]:
        tags = tagged(instance)
        status = tags.get("tourniquet:status", "-")
        name = tags.get("Name", "")
        if status == "quarantined":
            quarantined.append(instance)
        print(f"  {instance} {name:11} tainted={'Tainted' in tags!s:5} status={status}")
    members = [i["InstanceId"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]["Instances"]]
    replacements = [m for m in members if m not in account["web"]]
    print(f"  Auto Scaling group web: {len(members)} instances, replacements launched: {', '.join(replacements) or 'none'}")
    status = ct.get_trail_status(Name=TRAIL)
    trail = ct.describe_trails(trailNameList=[TRAIL])["trailList"][0]
    print(f"  trail {TRAIL}: logging={status['IsLogging']} log file validation={trail['LogFileValidationEnabled']}")
    for user in ["alice", "bob"]:
        keys = [k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]]
        policies = iam.list_user_policies(UserName=user)["PolicyNames"]
        print(f"  user {user}: access keys {keys}, inline policies {policies}")
    expect(len(quarantined) == 3, "3 instances quarantined: the bastion and 2 web instances")
    expect(len(members) == 3, "the web group is back to 3 healthy instances")
    expect(status["IsLogging"] and trail["LogFileValidationEnabled"], "the trail is logging and validated")
    keys = [k["Status"] for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]]
    expect(keys == ["Inactive", "Inactive"], "alice's keys are inactive (not deleted)")


def show_chat_post(received, posts):
    """The first isolation as the chat channel shows it, beside its e-mail."""
    email = next((n for n in received if n.get("MessageAttributes", {}).get("action", {}).get("Value") == "isolate"), None)
    post = next((p for p in posts if p.get("metadata", {}).get("eventType") == "isolate"), None)
    expect(len(posts) == len(received), f"chat got every notification too ({len(posts)} of {len(received)})")
    if email is None or post is None:
        expect(False, "an isolation reached both e-mail and chat")
        return
    content, meta = post["content"], post["metadata"]
    print(f"\n{BOLD}The same isolation in a chat channel (AWS Chatbot custom notification){RESET}")
    print(f"  e-mail subject: {email['Subject']}")
    print(f"  chat title:     {content['title']}")
    print(f"  chat thread:    {meta['threadId']}")
    print("  chat body:")
    print("\n".join("    " + line for line in content["description"].splitlines()))
    print("  chat next steps:")
    for step in content.get("nextSteps", []):
        print(f"    - {step}")
    print(f"  chat keywords:  {', '.join(content.get('keywords', []))}")
    expect(post["version"] == "1.0" and post["source"] == "custom", "the chat post is a custom notification")


def main():
    print(f"{BOLD}Seeding the account{RESET}: an Auto Scaling group of 3 web instances and a legacy web "
          "server behind an ALB,\n  a bastion with an instance profile, a multi-region trail, IAM users alice, bob, carol")
    account = seed_account()
    chat = seed.ChatChannel()
    play(account)
    received = seed.notifications(account["queue"])
    print(f"\n{BOLD}What the on-call engineer received ({len(received)} notifications){RESET}")
    for n in received:
        attrs = {k: v["Value"] for k, v in n.get("MessageAttributes", {}).items()}
        colour = {"CRITICAL": RED, "WARNING": YELLOW}.get(attrs.get("severity"), "")
        print(f"\n{colour}{BOLD}Subject: {n['Subject']}{RESET}")
        print(f"{DIM}attributes: {json.dumps(attrs, sort_keys=True)}{RESET}")
        readable = n["Message"].split("-- facts (JSON) --")[0].rstrip()
        print("\n".join("  " + line for line in readable.splitlines()))
    show_chat_post(received, chat.posts)
    severities = [n.get("MessageAttributes", {}).get("severity", {}).get("Value") for n in received]
    critical, warning = severities.count("CRITICAL"), severities.count("WARNING")
    expect(critical >= 2, f"{critical} CRITICAL notifications page a human (2 held instances)")
    expect(warning >= 4, f"{warning} WARNING notifications ask a person to look today "
                         "(3 isolations, alice disabled, the trail healed)")
    final_state(account)
    if FAILURES:
        print(f"\n{RED}{BOLD}The demo did not go as expected:{RESET}")
        for f in FAILURES:
            print(f"  - {f}")
        return 1
    print(f"\n{GREEN}{BOLD}Every outcome as expected.{RESET} ({time.monotonic() - START:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
