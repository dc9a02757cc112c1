#!/usr/bin/env python3
"""The code's shape, checked: no source file over 400 lines outside its tests, no function
over 60 lines, no import circle between a crate's modules. rustfmt's layout makes this a
line scan: an item's closing brace sits at its opening line's indentation.

Usage: shape.py [--report] [--allow FILE] CRATE_SRC_DIR...

Exit 1 on a breach, unless --report. FILE lists breaches not yet mended, by key (a path,
or a path and a function's name): a breach it lists passes, and a listed one that is gone
fails too, so that the list only shrinks.
"""
import os
import re
import sys

MAX_FILE = 400
MAX_FN = 60
FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
TEST_MOD = re.compile(r"^(\s*)#\[cfg\(test\)\]\s*$")
PATH = re.compile(r"\b(crate|super)::((?:\w+::)*\w+)")


def resolve(src, parts):
    """The longest module path of `parts` that is a file of the crate."""
    for k in range(len(parts), 0, -1):
        rel = os.path.join(src, *parts[:k])
        if os.path.isfile(rel + ".rs") or os.path.isfile(os.path.join(rel, "mod.rs")):
            return "::".join(parts[:k])
    return None


def is_test_file(path):
    name = os.path.basename(path)
    return name.endswith("_tests.rs") or name == "tests.rs" or "/tests/" in path


def body_lines(lines):
    """The lines outside `#[cfg(test)]` items, with their numbers."""
    out, skip_until = [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        if skip_until is None:
            m = TEST_MOD.match(line)
            if m:
                indent = m.group(1)
                # The item after the attribute: skip to its closing brace (or `;`).
                j = i + 1
                if j < len(lines) and lines[j].rstrip().endswith(";"):
                    i = j + 1
                    continue
                skip_until = indent + "}"
                i = j + 1
                continue
            out.append((i + 1, line))
        elif line.rstrip() == skip_until:
            skip_until = None
        i += 1
    return out


def is_declaration(rest):
    """A trait method without a body: its signature ends in `;` before any `{`."""
    for _, line in rest:
        end = line.split("//")[0].rstrip()
        if end.endswith("{"):
            return False
        if end.endswith(";"):
            return True
    return True


def long_functions(numbered):
    found = []
    for k, (num, line) in enumerate(numbered):
        m = FN.match(line)
        if not m or is_declaration(numbered[k:]):
            continue
        indent = m.group(1)
        for num2, line2 in numbered[k:]:
            if line2.startswith(indent + "}") and len(line2) - len(line2.lstrip()) == len(indent):
                length = num2 - num + 1
                if length > MAX_FN:
                    found.append((m.group(7), num, length))
                break
    return found


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check(src):
    breaches, graph = [], {}
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            if is_test_file(path):
                continue
            with open(path, encoding="utf-8") as fh:
                numbered = body_lines(fh.read().split("\n"))
            if len(numbered) > MAX_FILE:
                breaches.append((path, f"{path}: {len(numbered)} lines outside tests (at most {MAX_FILE})"))
            for name, num, length in long_functions(numbered):
                breaches.append((f"{path} fn {name}", f"{path}:{num}: fn {name} is {length} lines (at most {MAX_FN})"))
            me = module_of(src, path)
            deps = graph.setdefault(me, set())
            # The module a relative path starts from: a folder's own for its mod.rs (and the
            # crate root's), the parent's for any other file.
            if os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs"):
                here = me
            else:
                here = me.rsplit("::", 1)[0] if "::" in me else "crate"
            for _, l in numbered:
                if l.lstrip().startswith("//"):
                    continue
                for m in PATH.finditer(l):
                    kind, rest = m.group(1), m.group(2).split("::")
                    base = [] if kind == "crate" else (here.split("::") if here != "crate" else [])
                    if kind == "super":
                        base = base[:-1] if os.path.basename(path) in ("mod.rs",) else base
                    dep = resolve(src, base + rest)
                    if dep and dep != me and not me.startswith(dep + "::") and dep != "crate":
                        deps.add(dep)
    for comp in cycles(graph):
        line = f"{src}: modules import each other: {' <-> '.join(comp)}"
        breaches.append((line, line))
    return breaches


def main(argv):
    report = "--report" in argv
    allowed = set()
    args = [a for a in argv if a != "--report"]
    if "--allow" in args:
        i = args.index("--allow")
        with open(args[i + 1], encoding="utf-8") as fh:
            allowed = {l.strip() for l in fh if l.strip() and not l.startswith("#")}
        del args[i : i + 2]
    breaches = [b for s in args for b in check(s)]
    failed = [text for key, text in breaches if key not in allowed]
    mended = sorted(allowed - {key for key, _ in breaches})
    for text in (text for _, text in breaches) if report else failed:
        print(text)
    for key in mended:
        print(f"{key}: mended, remove it from the list of allowed breaches")
    if report:
        return 0
    if failed or mended:
        print(f"{len(failed)} new breach(es) of the code's shape, {len(mended)} mended", file=sys.stderr)
        return 1
    print(f"code shape: {len(breaches)} known breach(es) left, none new", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
