#!/usr/bin/env python3
"""include-graph.py: the module include graph of the C sources, and its cycles.

A module is a name: src/NAME.c with include/NAME.h (and include/NAME-internal.h,
the header its own files share).  Module A depends on module B when a file of
A includes "B.h" (or "B-internal.h").  Prints one line per module, "A: B C",
then every cycle (a strongly connected set of more than one module), and
exits 1 when there is one.  `make test` runs it as a check.

usage: scripts/include-graph.py [TOP]    (TOP: the tree, default .)
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    """The module a source or header file belongs to."""
    name = os.path.splitext(os.path.basename(path))[0]
    if name.endswith("-internal"):
        name = name[: -len("-internal")]
    return name


def read_graph(top):
    """{module: set of modules it includes}, from src/ and include/."""
    graph = {}
    for sub in ("src", "include"):
        folder = os.path.join(top, sub)
        for entry in sorted(os.listdir(folder)):
            if not entry.endswith((".c", ".h")):
                continue
            with open(os.path.join(folder, entry), encoding="utf-8") as f:
                text = f.read()
            mod = module_of(entry)
            deps = graph.setdefault(mod, set())
            for header in INCLUDE.findall(text):
                dep = module_of(header)
                if dep != mod:
                    deps.add(dep)
    for deps in list(graph.values()):
        for dep in deps:
            graph.setdefault(dep, set())
    return graph


def cycles(graph):
    """The strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    graph = read_graph(top)
    for mod in sorted(graph):
        print(f"{mod}: {' '.join(sorted(graph[mod]))}".rstrip())
    found = cycles(graph)
    for group in found:
        print("cycle: " + " ".join(group))
    if found:
        print(f"{len(found)} include cycle(s)", file=sys.stderr)
        return 1
    print("no include cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
