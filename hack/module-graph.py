#!/usr/bin/env python3
"""The import graph of vzrun's src/, and a check of its floors.

One node per file module (src/a/b.rs is a::b, src/a/mod.rs is a); an edge
for every `crate::...` or `super::...` path a module names outside its
tests. Then the modules are grouped by floor (docs/architecture.md) and
every edge between groups must point down the table below.

  hack/module-graph.py            summary; exit 1 on a cycle or a floor
                                  broken
  hack/module-graph.py --edges    every module's imports too
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# What each floor may import, lowest first. process::protocol sits below
# linux/: the error a setup step reports is the protocol's.
FLOORS = {
    "logging": set(),
    "state": set(),
    "cgroups": {"logging"},
    "process::protocol": set(),
    "linux": {"cgroups", "logging", "process::protocol"},
    "spec": {"cgroups", "linux", "logging"},
    "process": {"linux", "logging", "process::protocol", "spec"},
    "container": {"cgroups", "linux", "logging", "process", "process::protocol", "spec", "state"},
    "cli": {"container"},
    # The fuzz targets' entry points reach each parser of hostile input.
    "fuzz": {"cgroups", "container", "linux", "spec", "state"},
    "main": {"cli", "logging"},
}


def modules():
    mods = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            parts = os.path.relpath(path, SRC)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts == ["main"]:
                parts = []
            mods["::".join(parts)] = path
    return mods


def graph(mods):
    names = set(mods)

    def resolve(path):
        segs = path.split("::")
        for i in range(len(segs), 0, -1):
            cand = "::".join(segs[:i])
            if cand in names:
                return cand
        return None

    edges = {m: set() for m in mods}
    for m, path in mods.items():
        text = open(path).read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", text, flags=re.S)
        base = m.split("::") if m else []
        is_dir = path.endswith("mod.rs") or path.endswith("main.rs")
        parent = base if is_dir else base[:-1]
        targets = []
        for mm in re.finditer(r"\bcrate((?:::\w+)+)", text):
            targets.append(mm.group(1)[2:])
        for mm in re.finditer(r"\buse crate::\{([^;]*)\};", text, flags=re.S):
            targets += re.findall(r"(\w+(?:::\w+)*)", mm.group(1))
        for mm in re.finditer(r"\b((?:super::)+)((?:\w+::)*\w+)", text):
            up = mm.group(1).count("super::")
            b = parent[: len(parent) - (up - 1)] if up > 1 else parent
            targets.append("::".join(b + mm.group(2).split("::")))
        for mm in re.finditer(r"\buse super::\{([^;]*)\};", text, flags=re.S):
            targets += ["::".join(parent + i.split("::")) for i in re.findall(r"(\w+(?:::\w+)*)", mm.group(1))]
        for t in targets:
            r = resolve(t)
            if r is not None and r != m:
                edges[m].add(r)
    return edges


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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

    for v in edges:
        if v not in index:
            visit(v)
    return out


def floor(m):
    if m.startswith("process::protocol"):
        return "process::protocol"
    return m.split("::")[0] if m else "main"


def main():
    mods = modules()
    edges = graph(mods)
    name = lambda m: m or "main"
    if "--edges" in sys.argv:
        for m in sorted(edges):
            print(f"{name(m)} -> {', '.join(sorted(name(x) for x in edges[m]))}")
    found = cycles(edges)
    print(f"{len(mods)} modules, {sum(len(e) for e in edges.values())} imports, {len(found)} cycles")
    for c in found:
        print("cycle:", " ".join(name(x) for x in c))
    broken = []
    for m, ts in edges.items():
        for t in ts:
            a, b = floor(m), floor(t)
            if a != b and b not in FLOORS.get(a, set()):
                broken.append(f"{name(m)} -> {name(t)}")
    for b in sorted(broken):
        print("floor broken:", b)
    return 1 if found or broken else 0


if __name__ == "__main__":
    sys.exit(main())
