"""Checks that no rule of either template passes a forged event.

EventBridge reserves `aws.*` sources: only AWS services (and rules forwarding their events)
send under them, while anyone with events:PutEvents on a bus can send any detail-type and
detail. So every rule must filter on `source`, with exact `aws.*` values, and a copy of every
sample event of `events/` under a custom source must match no rule of template.yaml or
member.yaml. The genuine samples are matched too, so that the check cannot pass by matching
nothing.

Patterns are matched with the emulator's own filter semantics (moto's `EventPattern`), over
events flattened the way EventBridge flattens them: a path through an array of objects holds
every element's value (moto's flattening stops at arrays, EventBridge's does not).

Usage: forged_events.py TEMPLATE... (run from the repository root).
"""

import copy
import glob
import json
import re
import sys

import yaml
from moto.events.models import UNDEFINED, EventPattern

ACCOUNT, REGION, PARTITION = "111122223333", "us-east-1", "aws"
FORGED_SOURCE = "x.forge"

# Samples that no rule delivers, on purpose: each says why.
UNDELIVERED = {
    "events/isolate-instance/create-tags-failed.json": "a failed CreateTags changed nothing",
    "events/isolate-instance/direct.json": "a direct invocation, not an event",
    "events/framework/sweep.json": "the sweep schedule's constant input",
    "events/heal-cloudtrail/scheduled-audit.json": "a schedule's rule has no pattern",
}


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (`!Ref x` is `{"Ref": "x"}`)."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


Loader.add_multi_constructor("!", _intrinsic)


class Template:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.load(f, Loader=Loader)
        self.params = {}
        for name, p in (self.doc.get("Parameters") or {}).items():
            default = p.get("Default", "")
            if p.get("Type") == "CommaDelimitedList":
                default = [v.strip() for v in str(default).split(",")]
            self.params[name] = default
        self.params.update({"AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
                            "AWS::Partition": PARTITION, "AWS::StackName": "tourniquet"})

    def attr(self, logical, attribute):
        return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{logical}-{attribute}"

    def resolve(self, v):
        """The value with the template's defaults: enough of the intrinsics for patterns."""
        if isinstance(v, list):
            out = []
            for item in v:
                r = self.resolve(item)
                out.append(r)
            return out
        if not isinstance(v, dict):
            return v
        if list(v) == ["Ref"]:
            name = v["Ref"]
            return self.params.get(name, f"ref-{name}")
        if list(v) == ["Fn::GetAtt"]:
            return self.attr(*v["Fn::GetAtt"])
        if list(v) == ["Fn::Sub"]:
            text, extra = v["Fn::Sub"], {}
            if isinstance(text, list):
                text, extra = text[0], {k: self.resolve(x) for k, x in text[1].items()}

            def sub(m):
                name = m.group(1)
                if name in extra:
                    return str(extra[name])
                if "." in name:
                    return self.attr(*name.split(".", 1))
                value = self.params.get(name, f"ref-{name}")
                return ",".join(value) if isinstance(value, list) else str(value)

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if list(v) == ["Fn::Join"]:
            sep, items = v["Fn::Join"]
            items = self.resolve(items)
            return sep.join(str(i) for i in items)
        return {k: self.resolve(x) for k, x in v.items()}

    def patterns(self):
        """Every event pattern of the template's rules, by name."""
        for logical, res in (self.doc.get("Resources") or {}).items():
            props = res.get("Properties") or {}
            if res.get("Type") == "AWS::Events::Rule" and "EventPattern" in props:
                yield logical, self.resolve(props["EventPattern"])
            for name, ev in (props.get("Events") or {}).items():
                if ev.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                    yield f"{logical}.{name}", self.resolve(ev["Properties"]["Pattern"])


def flatten(node, prefix="", out=None):
    """Leaf values by dotted path; a path through arrays holds every element's value."""
    if out is None:
        out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(node, list) and any(isinstance(i, (dict, list)) for i in node):
        for item in node:
            flatten(item, prefix, out)
    else:
        values = node if isinstance(node, list) else [node]
        out.setdefault(prefix, []).extend(values)
    return out


def matches(pattern, flat, prefix=""):
    for key, rule in pattern.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(rule, dict):
            if not matches(rule, flat, path):
                return False
            continue
        item = flat.get(path, UNDEFINED)
        if not EventPattern(None, {})._does_item_match_filters(item, rule):
            return False
    return True


def exact_aws_sources(pattern):
    source = pattern.get("source")
    return (isinstance(source, list) and source
            and all(isinstance(s, str) and s.startswith("aws.") for s in source))


def main(paths):
    failures, patterns = [], []
    for path in paths:
        for name, pattern in Template(path).patterns():
            if isinstance(pattern, str):
                pattern = json.loads(pattern)
            patterns.append((f"{path}:{name}", pattern))
            if not exact_aws_sources(pattern):
                failures.append(f"{path}:{name} does not filter on exact aws.* sources: "
                                f"{pattern.get('source')!r}")
    samples = 0
    for sample in sorted(glob.glob("events/**/*.json", recursive=True)):
        if sample.startswith("events/malformed/"):
            continue
        with open(sample) as f:
            event = json.load(f)
        if not isinstance(event, dict) or "detail-type" not in event:
            continue
        samples += 1
        genuine = [n for n, p in patterns if matches(p, flatten(event))]
        if not genuine and sample not in UNDELIVERED:
            failures.append(f"{sample} (genuine) matches no rule: the check would be vacuous")
        if genuine and sample in UNDELIVERED:
            failures.append(f"{sample} is listed as undelivered but matches {genuine}")
        forged = copy.deepcopy(event)
        forged["source"] = FORGED_SOURCE
        for name in [n for n, p in patterns if matches(p, flatten(forged))]:
            failures.append(f"{sample} forged with source {FORGED_SOURCE} matches {name}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"forged events: {len(patterns)} rules, {samples} samples, forged copies matched by "
          f"none: {'no' if failures else 'yes'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["template.yaml", "member.yaml"]))
