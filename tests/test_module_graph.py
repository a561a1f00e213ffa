"""The module graph of the Rust core (`src/`): no module depends, directly or through others, on a
module that depends on it, and pyo3 is used only under `src/bindings/`.

A module is a source file (`src/x.rs` or `src/x/mod.rs` is `x`, `src/x/y.rs` is `x::y`, `src/lib.rs`
is the crate root); inline modules (`mod tests { ... }`) belong to their file. An edge is any path
that names another module: `crate::x::...`, `super::...`, `self::...`, or a child module declared
with `mod y;` (`use y::...`), in `use` declarations (groups included) and in code alike. Comments,
strings and character literals are skipped.

Run as a script to print the graph: `python tests/test_module_graph.py`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / 'src'
BINDINGS = 'bindings'
ROOT = 'crate'

IDENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
SEPARATOR = re.compile(r'\s*::\s*')
PYO3 = re.compile(r'(?<![A-Za-z0-9_])pyo3(?![A-Za-z0-9_])|#\[\s*py(?:class|methods|function|module)\b')
DECLARED_CHILD = re.compile(r'(?<![A-Za-z0-9_])mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;')


@dataclass
class Reference:
    """Where a module names another one."""

    path: str
    line: int
    text: str


@dataclass
class Graph:
    modules: list[str]
    # source → target → the first reference that makes the edge
    edges: dict[str, dict[str, Reference]] = field(default_factory=dict)

    def successors(self, module: str) -> list[str]:
        return sorted(self.edges.get(module, {}))


def module_name(path: Path) -> str:
    """`src/x/mod.rs` → `x`, `src/x/y.rs` → `x::y`, `src/lib.rs` → the crate root."""
    parts = list(path.relative_to(SRC).with_suffix('').parts)
    if parts[-1] == 'mod':
        parts.pop()
    if parts == ['lib']:
        return ROOT
    return '::'.join(parts)


def strip_non_code(text: str) -> str:
    """The source with comments, string literals and character literals blanked out (newlines
    kept, so offsets and line numbers still hold)."""
    out: list[str] = []
    i, n = 0, len(text)

    def blank(segment: str) -> None:
        out.append(''.join(c if c == '\n' else ' ' for c in segment))

    while i < n:
        c = text[i]
        if text.startswith('//', i):
            end = text.find('\n', i)
            end = n if end == -1 else end
            blank(text[i:end])
            i = end
        elif text.startswith('/*', i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith('/*', j):
                    depth, j = depth + 1, j + 2
                elif text.startswith('*/', j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(text[i:j])
            i = j
        elif (raw := re.compile(r'b?r(#*)"').match(text, i)) and not _continues_ident(text, i):
            closing = '"' + raw.group(1)
            end = text.find(closing, raw.end())
            end = n if end == -1 else end + len(closing)
            blank(text[i:end])
            i = end
        elif c == '"' or (text.startswith('b"', i) and not _continues_ident(text, i)):
            j = i + (2 if c == 'b' else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            blank(text[i : j + 1])
            i = j + 1
        elif c == "'" or (text.startswith("b'", i) and not _continues_ident(text, i)):
            start = i + (2 if c == 'b' else 1)
            if text.startswith('\\', start):
                end = text.find("'", start + 2)
            elif start + 1 < n and text[start + 1] == "'":
                end = start + 1
            else:  # a lifetime or a label
                out.append(text[i:start])
                i = start
                continue
            end = n if end == -1 else end
            blank(text[i : end + 1])
            i = end + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def _continues_ident(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == '_')


def parse_use_tree(code: str, pos: int) -> tuple[list[list[str]], int]:
    """The paths of a use tree (or of a plain path in code) starting at `pos`, each a list of
    segments, and where the tree ends. `a::b::{c, d::{e}}` → `a::b::c`, `a::b::d::e`."""
    segments: list[str] = []
    while True:
        if code.startswith('{', pos):
            return parse_group(code, pos, segments)
        if code.startswith('*', pos):
            return [segments + ['*']], pos + 1
        ident = IDENT.match(code, pos)
        if not ident:
            return ([segments] if segments else []), pos
        segments.append(ident.group())
        pos = ident.end()
        separator = SEPARATOR.match(code, pos)
        if not separator:
            return [segments], pos
        pos = separator.end()


def parse_group(code: str, pos: int, prefix: list[str]) -> tuple[list[list[str]], int]:
    """`{a, b::c, ...}` at `pos`, each member prefixed with `prefix`."""
    paths: list[list[str]] = []
    pos += 1
    while pos < len(code):
        pos = _skip_space(code, pos)
        if code.startswith('}', pos):
            return (paths or [prefix]), pos + 1
        if code.startswith(',', pos):
            pos += 1
            continue
        members, end = parse_use_tree(code, pos)
        paths.extend(prefix + m for m in members)
        if end == pos:  # not a path (e.g. `as` renames are read as paths, then skipped here)
            end += 1
        pos = end
    return paths, pos


def _skip_space(code: str, pos: int) -> int:
    while pos < len(code) and code[pos].isspace():
        pos += 1
    return pos


def resolve(
    segments: list[str], scope: list[str], children: set[str], modules: set[str]
) -> tuple[list[str], list[str]] | None:
    """The absolute module path a reference starts from and the rest of it, or None when it is no
    module path (`scope` is the inline module path the reference is in)."""
    head, rest = segments[0], list(segments[1:])
    if head == 'crate':
        return [], rest
    if head in ('super', 'self'):
        base = list(scope)
        while True:
            if head == 'super':
                if not base:
                    return None
                base.pop()
            if rest and rest[0] in ('super', 'self'):
                head, rest = rest[0], rest[1:]
                continue
            return base, rest
    if head in children and '::'.join(scope + [head]) in modules:
        return scope + [head], rest
    return None


def owning_module(path: list[str], modules: set[str]) -> str:
    """The longest prefix of `path` that is a module file (the crate root if none is)."""
    for length in range(len(path), 0, -1):
        candidate = '::'.join(path[:length])
        if candidate in modules:
            return candidate
    return ROOT


PATH_START = re.compile(r'(?<![A-Za-z0-9_:])(crate|super|self|[A-Za-z_][A-Za-z0-9_]*)\s*::')
INLINE_MOD = re.compile(r'(?<![A-Za-z0-9_])mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{')
SCAN = re.compile(r'[{}]|' + INLINE_MOD.pattern + '|' + PATH_START.pattern)


def module_references(module: str, code: str, modules: set[str]) -> list[tuple[str, int, int]]:
    """(target module, start offset, end offset) of every module path in a file's code."""
    file_scope = [] if module == ROOT else module.split('::')
    children = set(DECLARED_CHILD.findall(code))
    inline: list[tuple[str, int]] = []  # (inline module, brace depth inside it)
    depth = 0
    found: list[tuple[str, int, int]] = []
    pos = 0
    while (m := SCAN.search(code, pos)) is not None:
        token = m.group()
        if token == '{':
            depth += 1
            pos = m.end()
        elif token == '}':
            if inline and inline[-1][1] == depth:
                inline.pop()
            depth -= 1
            pos = m.end()
        elif m.group(1):  # `mod name {`
            depth += 1
            inline.append((m.group(1), depth))
            pos = m.end()
        else:
            paths, end = parse_use_tree(code, m.start())
            scope = file_scope + [name for name, _ in inline]
            local_children = children if not inline else set()
            for segments in paths:
                resolved = resolve(segments, scope, local_children, modules)
                if resolved is None:
                    continue
                base, rest = resolved
                target = owning_module(base + [s for s in rest if s != '*'], modules)
                if target != module:
                    found.append((target, m.start(), end))
            # the group braces of a use tree were read with it
            pos = max(end, m.end())
    return found


def build_graph() -> Graph:
    files = {module_name(p): p for p in sorted(SRC.rglob('*.rs'))}
    modules = set(files)
    graph = Graph(modules=sorted(modules))
    for module, path in files.items():
        text = path.read_text(encoding='utf-8')
        code = strip_non_code(text)
        lines = text.splitlines()
        edges = graph.edges.setdefault(module, {})
        for target, start, _end in module_references(module, code, modules):
            if target in edges:
                continue
            line = code.count('\n', 0, start) + 1
            source_line = lines[line - 1].strip() if line <= len(lines) else ''
            edges[target] = Reference(str(path.relative_to(SRC.parent)), line, source_line)
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.successors(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in graph.modules:
        if v not in index:
            visit(v)
    return sorted(components)


def shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest cycle through `start` inside one component: `[start, ..., start]`."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in graph.successors(v):
            if w not in within:
                continue
            if w == start:
                # back from `v` to `start` (`start` is no successor of itself: no self edges)
                path = [v]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1] + [start]
            if w not in parents:
                parents[w] = v
                queue.append(w)
    return [start]


def describe_cycles(graph: Graph) -> list[str]:
    """One paragraph per cycle: its modules, its mutual pairs, and the shortest cycle through
    each module with the reference behind every step."""
    report = []
    for component in strongly_connected(graph):
        members = set(component)
        lines = [f'cycle among {{{", ".join(component)}}}:']
        pairs = [
            f'{a} <-> {b}'
            for a in component
            for b in graph.successors(a)
            if b in members and a < b and a in graph.edges.get(b, {})
        ]
        if pairs:
            lines.append('  mutual: ' + ', '.join(pairs))
        seen: set[tuple[str, ...]] = set()
        for module in component:
            cycle = shortest_cycle(graph, module, members)
            rotation = min(tuple(cycle[i:-1] + cycle[:i]) for i in range(len(cycle) - 1))
            if rotation in seen:
                continue
            seen.add(rotation)
            lines.append('  ' + ' -> '.join(cycle))
            for a, b in zip(cycle, cycle[1:], strict=False):
                ref = graph.edges[a][b]
                lines.append(f'      {a} -> {b}: {ref.path}:{ref.line}: {ref.text}')
        report.append('\n'.join(lines))
    return report


def pyo3_outside_bindings() -> list[str]:
    found = []
    for path in sorted(SRC.rglob('*.rs')):
        if path.relative_to(SRC).parts[0] == BINDINGS:
            continue
        text = path.read_text(encoding='utf-8')
        code = strip_non_code(text)
        lines = text.splitlines()
        for m in PYO3.finditer(code):
            line = code.count('\n', 0, m.start()) + 1
            found.append(f'{path.relative_to(SRC.parent)}:{line}: {lines[line - 1].strip()}')
    return found


def layers(graph: Graph) -> list[list[str]]:
    """Modules by layer: each layer depends only on the layers before it (acyclic graphs only)."""
    placed: dict[str, int] = {}
    remaining = set(graph.modules)
    result: list[list[str]] = []
    while remaining:
        layer = sorted(m for m in remaining if all(t in placed for t in graph.successors(m)))
        if not layer:
            break
        for m in layer:
            placed[m] = len(result)
        remaining -= set(layer)
        result.append(layer)
    if remaining:
        result.append(sorted(remaining) + ['(in cycles)'])
    return result


def describe_graph(graph: Graph) -> str:
    lines = [f'{m} -> {", ".join(graph.successors(m)) or "-"}' for m in graph.modules]
    lines.append('')
    lines.append('layers (each uses only the ones above it):')
    lines.extend(f'  {i}: {" ".join(layer)}' for i, layer in enumerate(layers(graph)))
    return '\n'.join(lines)


def test_the_scanner_reads_use_trees_and_skips_literals():
    code = strip_non_code(
        'use crate::{a, b::{c, d}};\n'
        '// crate::x::y\n'
        'let s = "crate::x"; let c = \'"\'; fn f<\'a>() {}\n'
        'mod tests { use super::*; use crate::e::F; }\n'
        'let r = r#"crate::x"#; super::g::h();\n'
    )
    modules = {ROOT, 'a', 'b', 'b::c', 'e', 'm', 'm::g', 'm::n'}
    targets = [t for t, _, _ in module_references('m::n', code, modules)]
    assert targets == ['a', 'b::c', 'b', 'e', 'm::g']


def test_no_cycle_among_the_core_modules():
    graph = build_graph()
    cycles = describe_cycles(graph)
    assert not cycles, 'the modules of src/ depend on each other in cycles:\n\n' + '\n\n'.join(cycles)


# The layers of src/lib.rs's documentation, lowest first: a module may use its own layer's
# modules and those of the layers before it, never a later one.
DECLARED_LAYERS = [
    {'error', 'unicode', 'text', 'number'},
    {'lex'},
    {'model'},
    {'parse'},
    {'transform'},
    {'percentiles'},
    {'scrape'},
    {'bindings'},
]


def layer_violations(graph: Graph) -> list[str]:
    """Each use of a top-level module from an earlier declared layer than its own."""
    rank = {m: i for i, layer in enumerate(DECLARED_LAYERS) for m in layer}
    found = []
    for source, targets in graph.edges.items():
        for target, reference in targets.items():
            top_source, top_target = source.split('::')[0], target.split('::')[0]
            if top_source == ROOT or top_target == ROOT:
                continue
            if rank.get(top_target, len(rank)) > rank.get(top_source, len(rank)):
                found.append(f'{source} uses {target}: {reference}')
    return found


def test_the_declared_layers_only_look_down():
    graph = build_graph()
    tops = {m.split('::')[0] for m in graph.modules if m != ROOT}
    assert tops == set().union(*DECLARED_LAYERS), 'src/lib.rs and DECLARED_LAYERS name other modules'
    violations = layer_violations(graph)
    assert not violations, 'a module uses one of a later layer:\n' + '\n'.join(violations)


def test_a_use_of_a_later_layer_is_a_violation():
    ref = Reference('src/lex.rs', 1, 'use crate::scrape::Format;')
    graph = Graph(['lex', 'scrape', 'parse::prom'], {'lex': {'scrape': ref}, 'parse::prom': {'lex': ref}})
    assert layer_violations(graph) == [f'lex uses scrape: {ref}']


def test_pyo3_only_in_the_bindings():
    found = pyo3_outside_bindings()
    assert not found, 'pyo3 used outside src/bindings/:\n' + '\n'.join(found)


if __name__ == '__main__':
    graph = build_graph()
    print(describe_graph(graph))
    cycles = describe_cycles(graph)
    print()
    print('\n\n'.join(cycles) if cycles else 'no cycles')
    outside = pyo3_outside_bindings()
    print()
    print('pyo3 outside src/bindings/:\n' + '\n'.join(outside) if outside else 'pyo3 only in src/bindings/')
