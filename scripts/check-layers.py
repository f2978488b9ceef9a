#!/usr/bin/env python3
"""Checks the module graph of every crate of the workspace (ARCHITECTURE.md).

1. No cycle between modules at any level: for every reference from module A to an item
   under module B, the edge goes between the two children of their closest common
   ancestor (`crate::app::audit` using `crate::domain::scope` is an edge app -> domain;
   `web/error.rs` using `super::session` is error -> session inside web). References
   to a parent's own items (re-exports) are not edges. Test code is left out: a file's
   text from its first `#[cfg(test)]` on, and files named `tests.rs` or `*_tests.rs`.
2. The service's layers point one way: each top-level module may import only the
   modules listed for it in LAYERS.

Exit 0 when both hold; otherwise every cycle and every forbidden import is printed.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES = {
    "kakunin": ROOT / "src",
    "kakunin-protocol": ROOT / "crates/protocol/src",
    "kakunin-platform": ROOT / "crates/platform/src",
    "kakunin-issuer": ROOT / "crates/issuer/src",
    "kakunin-testkit": ROOT / "crates/testkit/src",
}
# The service: what each top-level module may use (besides itself and std/extern crates).
LAYERS = {
    "kakunin": {
        "config": set(),
        "domain": set(),
        "adapters": {"domain", "config"},
        "app": {"domain", "adapters", "config"},
        "web": {"app", "domain", "adapters", "config"},
        "cli": {"web", "app", "domain", "adapters", "config"},
        "bin": {"cli", "web", "app", "domain", "adapters", "config"},
    }
}

PATH_RE = re.compile(r"\b(crate|super|self)((?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))*)(::\{([^}]*)\})?")


def module_of(src: pathlib.Path, file: pathlib.Path):
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def code_of(file: pathlib.Path) -> str:
    text = file.read_text()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    # Comments and strings name paths without using them.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def references(module, text):
    for m in PATH_RE.finditer(text):
        head, rest, _, braced = m.group(1), m.group(2), m.group(3), m.group(4)
        segs = [s for s in rest.split("::") if s]
        if head == "crate":
            base = []
        elif head == "self":
            base = list(module)
        else:
            base = list(module[:-1])
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
        path = base + segs
        if braced is not None:
            for item in braced.split(","):
                first = item.strip().split("::")[0].strip()
                if first and first != "self" and re.match(r"^[A-Za-z_]\w*$", first):
                    yield path + [first]
            yield path
        else:
            yield path


def main() -> int:
    failures = []
    for crate, src in CRATES.items():
        files = [f for f in src.rglob("*.rs")
                 if f.name != "tests.rs" and not f.name.endswith("_tests.rs")]
        modules = {tuple(module_of(src, f)) for f in files}
        # bin/*.rs are crate roots of their own; treat `bin` as one top-level module.
        edges = {}
        for f in files:
            mod = module_of(src, f)
            if mod and mod[0] == "bin":
                mod = ["bin"]
                text = code_of(f).replace("kakunin::", "crate::")
            else:
                text = code_of(f)
            for target in references(mod, text):
                # Walk the target down to the deepest known module.
                t = []
                for seg in target:
                    if tuple(t + [seg]) in modules:
                        t.append(seg)
                    else:
                        break
                common = 0
                while common < min(len(mod), len(t)) and mod[common] == t[common]:
                    common += 1
                if common == len(mod) or common == len(t):
                    continue  # parent <-> child, or the module itself
                parent = tuple(mod[:common])
                edges.setdefault(parent, {}).setdefault(mod[common], {}).setdefault(
                    t[common], set()).add(str(f.relative_to(ROOT)))
        for parent, graph in sorted(edges.items()):
            where = "::".join((crate,) + parent)
            for cycle in cycles(graph):
                files_on = sorted({x for a, b in zip(cycle, cycle[1:] + cycle[:1])
                                   for x in graph[a][b]})
                failures.append(f"{where}: cycle {' -> '.join(cycle + cycle[:1])} ({', '.join(files_on)})")
        allowed = LAYERS.get(crate)
        if allowed:
            for a, targets in sorted(edges.get((), {}).items()):
                for b, files_on in sorted(targets.items()):
                    if a in allowed and b not in allowed[a]:
                        failures.append(f"{crate}: layer {a} may not import {b} ({', '.join(sorted(files_on))})")
    for line in failures:
        print(line, file=sys.stderr)
    if failures:
        return 1
    print("module graph: no cycles, layers point one way")
    return 0


def cycles(graph):
    """The strongly connected components of more than one node, each as one cycle."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strong(w)
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
            strong(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
