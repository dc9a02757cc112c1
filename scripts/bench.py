"""Benchmarks of the release isolate-instance binary: cold start, containment round trips,
memory, size, and an event storm. They report figures; they do not fail on slow machines
(only on wrong outcomes, which would make the figures meaningless).

The binary is served by a minimal Lambda runtime API on loopback (below), with the local AWS
emulator behind it; for the round-trip figures a proxy in front of the emulator adds a fixed
latency to every AWS request and logs each one. Run it with `make bench`.
"""

import json
import os
import pathlib
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import seed

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The template's functions, as `sam build` leaves them.
BINARIES = {"isolate-instance": "IsolateInstanceFunction", "heal-cloudtrail": "HealCloudTrailFunction",
            "disable-offender": "DisableOffenderFunction", "guard-tourniquet": "GuardTourniquetFunction"}
BUILD = ROOT / ".aws-sam" / "build-x86_64"
OUT = ROOT / "bench"
EMULATOR = os.environ["AWS_ENDPOINT_URL"]
LATENCY_MS = 50
# A per-service model of in-region AWS latency per request, in ms: the containment figures are
# given under it as well as under the uniform LATENCY_MS.
SERVICE_LATENCY_MS = {"ec2": 120, "autoscaling": 100, "iam": 150, "elasticloadbalancing": 60,
                      "dynamodb": 8, "sns": 25, "sts": 30, "guardduty": 60}
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "10"))
WARM_INVOCATIONS = 100
STORM = 200
STORM_LIMIT = 50
STORM_WORKERS = int(os.environ.get("BENCH_STORM_WORKERS", "16"))


def reset():
    urllib.request.urlopen(urllib.request.Request(f"{EMULATOR}/moto-api/reset", method="POST")).read()


# ------------------------------------------------------------------ a Lambda runtime API


class RuntimeApi:
    """Enough of the Lambda runtime API to serve a function: `next` blocks until an event is
    queued; `response` and `error` complete it. Records when each poll and answer happened."""

    def __init__(self):
        self.pending = queue.Queue()
        self.done = {}
        self.lock = threading.Condition()
        self.first_poll = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                with api.lock:
                    if api.first_poll is None:
                        api.first_poll = time.monotonic()
                request_id, body = api.pending.get()
                with api.lock:
                    api.done[request_id]["started"] = time.monotonic()
                self.reply(200, body, [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     f"arn:aws:lambda:{seed.REGION}:{seed.ACCOUNT}:function:bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                if len(parts) >= 5 and parts[2] == "invocation":
                    request_id, kind = parts[3], parts[4]
                    with api.lock:
                        entry = api.done[request_id]
                        entry.update(finished=time.monotonic(), kind=kind, body=body)
                        api.lock.notify_all()
                self.reply(202, b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def submit(self, event):
        request_id = str(uuid.uuid4())
        with self.lock:
            self.done[request_id] = {"queued": time.monotonic()}
        self.pending.put((request_id, json.dumps(event).encode()))
        return request_id

    def wait(self, request_id, timeout=120):
        deadline = time.monotonic() + timeout
        with self.lock:
            while "finished" not in self.done[request_id]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"invocation {request_id} got no answer in {timeout} s")
                self.lock.wait(left)
            return self.done[request_id]

    def invoke(self, event):
        entry = self.wait(self.submit(event))
        if entry["kind"] != "response":
            raise RuntimeError(f"function error: {entry['body'][:500]}")
        return json.loads(entry["body"]), entry

    def close(self):
        self.server.shutdown()


# ------------------------------------------------------------------ a latency proxy


def service_of(headers):
    """The signing service of a request (`ec2`, `dynamodb`, ...), from its SigV4 scope."""
    auth = headers.get("Authorization") or ""
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else ""


class LatencyProxy:
    """Forwards to the emulator after a delay, logging every request's start, end, service and
    operation. `latency_ms` is a number (every request) or a per-service table."""

    def __init__(self, latency_ms):
        self.log = []
        self.lock = threading.Lock()
        proxy = self
        upstream = EMULATOR.removeprefix("http://")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                import http.client

                started = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target")
                operation = target.split(".")[-1] if target else ""
                if not operation:
                    from urllib.parse import parse_qs
                    params = parse_qs(body.decode("utf-8", "replace"))
                    operation = (params.get("Action") or [""])[0]
                service = service_of(self.headers)
                delay = latency_ms if isinstance(latency_ms, (int, float)) else latency_ms.get(service, LATENCY_MS)
                time.sleep(delay / 1000)
                conn = http.client.HTTPConnection(upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                headers["Host"] = upstream
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                with proxy.lock:
                    proxy.log.append({"op": operation, "service": service, "start": started,
                                      "end": time.monotonic(),
                                      "body": body if operation == "ModifyNetworkInterfaceAttribute" else b"",
                                      "hold": b"HOLD#" in body})

            do_GET = do_POST = do_PUT = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()


def dependent_chain(requests):
    """The longest chain of requests each of which started after the previous one ended:
    the dependent round trips on the path to the last request."""
    requests = sorted(requests, key=lambda r: r["end"])
    depth = []
    for i, r in enumerate(requests):
        before = [depth[j] for j in range(i) if requests[j]["end"] <= r["start"]]
        depth.append(1 + max(before, default=0))
    return depth[-1] if depth else 0


# ------------------------------------------------------------------ the function process


# The deployed functions know Tourniquet's roles from the template, so their cold start makes
# no STS call; the cold-start benchmark also measures the start without them, for comparison.
OWN_ROLES = ",".join(f"arn:aws:iam::123456789012:role/tourniquet-{f}Role-BENCH"
                     for f in ("IsolateInstanceFunction", "HealCloudTrailFunction", "DisableOffenderFunction"))


def function_env(api, endpoint, limit, own_roles=True, extra=None):
    env = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG"))}
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "isolate-instance",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": seed.REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "HISTORY_TABLE": seed.TABLE,
        "ALERT_TOPIC_ARN": seed.TOPIC,
        "ISOLATION_LIMIT": str(limit),
    })
    if own_roles:
        env["TOURNIQUET_ROLE_ARNS"] = OWN_ROLES
    env.update(extra or {})
    return env


def start(api, endpoint, limit, log, own_roles=True, extra=None):
    binary = BUILD / BINARIES["isolate-instance"] / "bootstrap"
    started = time.monotonic()
    process = subprocess.Popen([str(binary)], env=function_env(api, endpoint, limit, own_roles, extra),
                               stdout=log, stderr=subprocess.STDOUT)
    return process, started


def peak_rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def stop(process):
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()


def tainted_event(instances, event_id=None, account=seed.ACCOUNT):
    """The sample CreateTags event naming `instances`, as `account` emits it."""
    text = (ROOT / "events/isolate-instance/create-tags.json").read_text().replace(seed.ACCOUNT, account)
    event = json.loads(text)
    event["id"] = event_id or str(uuid.uuid4())
    event["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": i} for i in instances]
    return event


def fleet(count, interfaces=False, volumes=1, account=None):
    """Fresh emulator state: the framework's resources and `count` tainted instances (in
    `account`, a member account, when given)."""
    reset()
    seed.framework()
    vpc, subnets = seed.network(account=account)
    group = seed.security_group(vpc, "app", account=account)
    profile = seed.instance_profile("app-role", "app", account=account)
    return seed.launch(subnets[0], group, count=count, profile=profile, tags=[("Tainted", "bench")],
                       volumes=volumes, second_interface=interfaces, account=account)


def contained(case):
    """Isolated: every step ok, except the network ACL entries once a VPC's ACLs are full (20
    entries per direction: the 20th isolation in one VPC fills them, and says so)."""
    if case["outcome"] == "remediated":
        return True
    return case["outcome"] == "partial" and all(
        s["ok"] or (s["name"].startswith("nacl ") and "no room" in s["detail"]) for s in case["steps"])


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


# ------------------------------------------------------------------ the benchmarks


def bench_cold_start(log):
    inits, firsts, inits_sts = [], [], []
    for own_roles in (True, False):
        for _ in range(COLD_RUNS):
            instance = fleet(1)
            api = RuntimeApi()
            process, started = start(api, EMULATOR, 1000, log, own_roles)
            answer, entry = api.invoke(tainted_event(instance))
            assert answer["cases"][0]["outcome"] == "remediated", answer
            (inits if own_roles else inits_sts).append((api.first_poll - started) * 1000)
            if own_roles:
                firsts.append((entry["finished"] - started) * 1000)
            stop(process)
            api.close()
    return {"runs": COLD_RUNS, "init_ms_median": statistics.median(inits),
            "init_with_sts_ms_median": statistics.median(inits_sts),
            "first_response_ms_median": statistics.median(firsts),
            "init_ms": inits, "init_with_sts_ms": inits_sts, "first_response_ms": firsts}


def bench_custodian_init():
    """Cloud Custodian's cold start on the same machine: a Python interpreter starting and
    importing its Lambda handler (`c7n.handler`), what Lambda's Python runtime does before
    its first poll. Median of COLD_RUNS."""
    python = os.environ.get("TOURNIQUET_C7N_PYTHON")
    if not python:
        return None
    runs = []
    for _ in range(COLD_RUNS):
        started = time.monotonic()
        subprocess.run([python, "-c", "import c7n.handler"], check=True)
        runs.append((time.monotonic() - started) * 1000)
    return {"runs": COLD_RUNS, "init_ms_median": statistics.median(runs), "init_ms": runs}


def quarantine_of(instance, account=None):
    """The group the instance's interfaces ended in."""
    reservations = seed.aws("ec2", account=account).describe_instances(InstanceIds=[instance])["Reservations"]
    groups = {g["GroupId"] for r in reservations for i in r["Instances"]
              for eni in i["NetworkInterfaces"] for g in eni["Groups"]}
    assert len(groups) == 1, f"{instance} is in {groups}, not in one quarantine group"
    return groups.pop()


# Work that runs beside the containment path (evidence, load balancers, the role deny, the
# network ACL entries and their holds). Timing alone cannot tell a request's causes, so a
# side request that happens to end before the cut must not count as a step of its path.
BESIDE = {"CreateSnapshot", "DescribeSnapshots", "ModifyInstanceAttribute", "CreateTags",
          "DescribeTargetGroups", "DescribeTargetHealth", "DescribeLoadBalancers",
          "DeregisterTargets", "DeregisterInstancesFromLoadBalancer", "GetInstanceProfile",
          "GetRolePolicy", "PutRolePolicy", "DescribeNetworkAcls", "CreateNetworkAclEntry",
          "DescribeInstanceAttribute"}


def measure(proxy, entry, instance, interfaces, account=None):
    """Containment figures of one invocation, from the proxy's log."""
    requests = [r for r in proxy.log if r["start"] >= entry["started"]]
    quarantine = quarantine_of(instance, account)
    modifies = [r for r in requests if r["op"] == "ModifyNetworkInterfaceAttribute"]
    quarantines = [r for r in modifies if quarantine.encode() in r["body"]]
    assert len(quarantines) == interfaces, f"expected a quarantine call per interface, saw {len(quarantines)}"
    contained = max(r["end"] for r in quarantines)
    opened = min(r["end"] for r in modifies if r not in quarantines)
    path = [r for r in requests if r["end"] <= contained and r["op"] not in BESIDE and not r["hold"]]
    return {
        "invocation_to_contained_ms": (contained - entry["started"]) * 1000,
        "dependent_round_trips_to_contained": dependent_chain(path),
        "requests_to_contained": len(path),
        "allow_all_window_ms": (contained - opened) * 1000,
        "created_groups_on_path": sum(1 for r in path if r["op"] == "CreateSecurityGroup"),
        "invocation_total_ms": (entry["finished"] - entry["started"]) * 1000,
        "requests_total": len(requests),
        "dependent_round_trips_total": dependent_chain(requests),
        "assume_role_requests": sum(1 for r in requests if r["op"] == "AssumeRole"),
    }


def isolate_measured(api, proxy, instance, interfaces, account=None, event=None):
    with proxy.lock:
        proxy.log.clear()
    answer, entry = api.invoke(event or tainted_event([instance], account=account or seed.ACCOUNT))
    assert answer["cases"][0]["outcome"] == "remediated", answer
    return measure(proxy, entry, instance, interfaces, account)


def finding_event(instance):
    """A High GuardDuty finding about `instance`, which GuardDuty backs: the emulator's wrapper
    answers GetFindings with it (moto has no findings)."""
    event = json.loads((ROOT / "events/isolate-instance/guardduty-finding.json").read_text())
    event["id"] = str(uuid.uuid4())
    d = event["detail"]
    d["resource"]["instanceDetails"]["instanceId"] = instance
    finding = {"accountId": seed.ACCOUNT, "region": "us-east-1", "partition": "aws",
               "arn": f"arn:aws:guardduty:us-east-1:{seed.ACCOUNT}:detector/{d['service']['detectorId']}/finding/{d['id']}",
               "id": d["id"], "type": d["type"], "severity": d["severity"], "schemaVersion": "2.0",
               "createdAt": "2026-11-23T03:00:00.000Z", "updatedAt": "2026-11-23T03:00:00.000Z",
               "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance}},
               "service": {"serviceName": "guardduty", "detectorId": d["service"]["detectorId"],
                           "archived": False, "count": 1}}
    faults = json.dumps([{"operation": "GetFindings", "answer": {"findings": [finding]}}]).encode()
    urllib.request.urlopen(urllib.request.Request(f"{EMULATOR}/tourniquet/faults", data=faults,
                                                  method="POST")).read()
    return event


def bench_containment_under(log, latency):
    """Three isolations of a 2-interface, 2-volume instance by a warm function: the first in a
    VPC made a minute ago (no groups yet), the first in a VPC the sweep prepared, and the next
    one in the same VPC."""
    figures = {}
    # A VPC without groups: the first isolation makes them on its path, the next one does not.
    instances = fleet(3, interfaces=True, volumes=2)
    proxy = LatencyProxy(latency)
    api = RuntimeApi()
    process, _ = start(api, proxy.url, 1000, log)
    answer, _ = api.invoke(tainted_event(["i-0000000000000beef"]))  # warm, touches no VPC
    assert answer["cases"][0]["outcome"] == "nothing-to-do", answer
    figures["first_in_new_vpc"] = isolate_measured(api, proxy, instances[0], 2)
    figures["warm"] = isolate_measured(api, proxy, instances[1], 2)
    # A finding: GuardDuty's confirmation rides in the first round, beside the reads.
    figures["warm_by_finding"] = isolate_measured(api, proxy, instances[2], 2,
                                                  event=finding_event(instances[2]))
    stop(process)
    api.close()
    # A VPC the periodic sweep prepared: the first isolation finds the groups in round 1.
    instances = fleet(1, interfaces=True, volumes=2)
    api = RuntimeApi()
    process, _ = start(api, proxy.url, 1000, log)
    answer, _ = api.invoke({"tourniquet": "sweep"})
    assert any(s["name"].startswith("prepare ") and s["ok"] for s in answer.get("upkeep", [])), answer
    figures["first_in_prepared_vpc"] = isolate_measured(api, proxy, instances[0], 2)
    stop(process)
    api.close()
    proxy.close()
    return figures


# A member account of an organization deployment, and its member role.
MEMBER = "222222222222"
MEMBER_ROLE = "tourniquet-member"


def bench_member_under(log, latency):
    """The same isolations in a member account, by a central function that has not acted
    there yet: the first assumes the member role (once per account and process), the next
    one reuses its credentials and clients."""
    instances = fleet(2, interfaces=True, volumes=2, account=MEMBER)
    proxy = LatencyProxy(latency)
    api = RuntimeApi()
    process, _ = start(api, proxy.url, 1000, log,
                       extra={"MEMBER_ROLE_NAME": MEMBER_ROLE, "MEMBER_ACCOUNTS": MEMBER})
    answer, _ = api.invoke(tainted_event(["i-0000000000000beef"]))  # warm, at home
    assert answer["cases"][0]["outcome"] == "nothing-to-do", answer
    figures = {"first_in_member": isolate_measured(api, proxy, instances[0], 2, MEMBER),
               "warm_in_member": isolate_measured(api, proxy, instances[1], 2, MEMBER)}
    stop(process)
    api.close()
    proxy.close()
    return figures


def bench_containment(log):
    return {
        "interfaces": 2,
        "uniform": {"latency_ms_per_request": LATENCY_MS, **bench_containment_under(log, LATENCY_MS),
                    **bench_member_under(log, LATENCY_MS)},
        "per_service": {"latency_ms_per_request": SERVICE_LATENCY_MS,
                        **bench_containment_under(log, SERVICE_LATENCY_MS),
                        **bench_member_under(log, SERVICE_LATENCY_MS)},
    }


def bench_memory(log):
    instances = fleet(WARM_INVOCATIONS + 1)
    api = RuntimeApi()
    process, _ = start(api, EMULATOR, 1000, log)
    for instance in instances:
        answer, _ = api.invoke(tainted_event([instance]))
        assert contained(answer["cases"][0]), answer
    rss = peak_rss_kib(process.pid)
    stop(process)
    api.close()
    return {"invocations": len(instances), "peak_rss_mib": rss / 1024}


def bench_storm(log):
    instances = fleet(STORM)
    api = RuntimeApi()
    processes = [start(api, EMULATOR, STORM_LIMIT, log)[0] for _ in range(STORM_WORKERS)]
    started = time.monotonic()
    ids = [api.submit(tainted_event([i])) for i in instances]
    entries = [api.wait(r, timeout=600) for r in ids]
    wall = time.monotonic() - started
    for p in processes:
        stop(p)
    api.close()
    outcomes = {}
    for e in entries:
        answer = json.loads(e["body"]) if e["kind"] == "response" else {"cases": [{"outcome": "function-error"}]}
        for case in answer["cases"]:
            outcome = "remediated" if contained(case) else case["outcome"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    latencies = [(e["finished"] - e["queued"]) * 1000 for e in entries]
    quarantined = sum(
        1 for r in seed.aws("ec2").describe_instances(InstanceIds=instances)["Reservations"]
        for i in r["Instances"]
        if {"Key": "tourniquet:status", "Value": "quarantined"} in i.get("Tags", []))
    return {"events": STORM, "limit": STORM_LIMIT, "workers": STORM_WORKERS, "outcomes": outcomes,
            "quarantined_instances": quarantined, "answered": len(entries),
            "wall_s": wall, "events_per_s": STORM / wall,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def bench_size():
    sizes = {}
    for name, logical_id in BINARIES.items():
        binary = BUILD / logical_id / "bootstrap"
        archive = ROOT / ".tourniquet" / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(binary, "bootstrap")
        sizes[name] = {"bootstrap_mib": binary.stat().st_size / 2**20, "zip_mib": archive.stat().st_size / 2**20}
    return sizes


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.machine()}"


def markdown(r):
    c, k, m, s, sz = r["cold_start"], r["containment"], r["memory"], r["storm"], r["size"]
    iso = sz["isolate-instance"]
    rows = [
        ("Cold start: exec to first poll (init), roles known (as deployed)", f"{c['init_ms_median']:.1f} ms", "< 30 ms"),
        ("Cold start: init with an STS call (no `TOURNIQUET_ROLE_ARNS`)", f"{c['init_with_sts_ms_median']:.1f} ms", ""),
        ("Cold start: exec to first response (one isolation)", f"{c['first_response_ms_median']:.0f} ms", ""),
    ]
    custodian = r.get("custodian")
    if custodian:
        rows.append(("Cloud Custodian, same run: Python start and `import c7n.handler` "
                     f"({c['init_ms_median']:.1f} ms is {custodian['init_ms_median'] / c['init_ms_median']:.0f}× less)",
                     f"{custodian['init_ms_median']:.0f} ms", ""))
    rows += [
        (f"Peak RSS over a cold start and {m['invocations'] - 1} warm invocations",
         f"{m['peak_rss_mib']:.1f} MiB", "< 32 MiB"),
        ("isolate-instance bootstrap (x86_64, stripped) / zip",
         f"{iso['bootstrap_mib']:.2f} MiB / {iso['zip_mib']:.2f} MiB", "< 8 MiB"),
        (f"Event storm: {s['events']} events, limit {s['limit']}, {s['workers']} function processes",
         f"{s['outcomes'].get('remediated', 0)} isolated, {s['outcomes'].get('held', 0)} held, "
         f"{s['answered']} answered", "50 / 150 / 200"),
        ("Event storm: throughput, p50, p99",
         f"{s['events_per_s']:.1f} events/s, {s['p50_ms']:.0f} ms, {s['p99_ms']:.0f} ms", ""),
    ]
    lines = [f"Measured {r['date']} on {r['machine']} (`make bench`).", "",
             "| measure | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {t} |" for a, b, t in rows]
    lines += ["", "Containment of a 2-interface instance by a warm function. *Session cut*: invocation "
              "to the quarantine group replacing allow-all on both interfaces (the figure to "
              "compare); *round trips*: dependent AWS requests on that path.", "",
              "| latency model | isolation | session cut | round trips | groups made on the path "
              "| allow-all window | whole invocation |", "|---|---|---|---|---|---|---|"]
    scenarios = [("first_in_new_vpc", "first in a VPC made a minute ago"),
                 ("first_in_prepared_vpc", "first in a VPC the sweep prepared"),
                 ("warm", "next in the same VPC"),
                 ("warm_by_finding", "next in the same VPC, by a GuardDuty finding (confirmed)"),
                 ("first_in_member", "member account: first there (role assumed; VPC made a minute ago)"),
                 ("warm_in_member", "member account: next in the same VPC")]
    for model, label in [("uniform", f"uniform {LATENCY_MS} ms"), ("per_service", "per service")]:
        for key, name in scenarios:
            f = k[model][key]
            lines.append(f"| {label} | {name} | {f['invocation_to_contained_ms']:.0f} ms | "
                         f"{f['dependent_round_trips_to_contained']} | {f['created_groups_on_path']} | "
                         f"{f['allow_all_window_ms']:.0f} ms | {f['invocation_total_ms']:.0f} ms, "
                         f"{f['dependent_round_trips_total']} round trips |")
    lines.append("")
    lines.append("Per-service model (ms per request): "
                 + ", ".join(f"{k2} {v}" for k2, v in SERVICE_LATENCY_MS.items()) + ".")
    lines += ["", "| binary | bootstrap | zip |", "|---|---|---|"]
    lines += [f"| {n} | {v['bootstrap_mib']:.2f} MiB | {v['zip_mib']:.2f} MiB |" for n, v in sz.items()]
    return "\n".join(lines) + "\n"


def main():
    OUT.mkdir(exist_ok=True)
    with open(ROOT / ".tourniquet" / "bench-functions.log", "wb") as log:
        results = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine()}
        for name, run in [("size", bench_size), ("cold_start", lambda: bench_cold_start(log)),
                          ("custodian", bench_custodian_init),
                          ("containment", lambda: bench_containment(log)),
                          ("memory", lambda: bench_memory(log)), ("storm", lambda: bench_storm(log))]:
            print(f"==> {name}", flush=True)
            results[name] = run()
            print(json.dumps(results[name], indent=1, default=str)[:1500], flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(results))
    print(markdown(results))
    storm = results["storm"]
    if storm["outcomes"] != {"remediated": STORM_LIMIT, "held": STORM - STORM_LIMIT}:
        print(f"error: the storm's outcomes are wrong: {storm['outcomes']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
