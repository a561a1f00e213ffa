"""`_core.pyi` names exactly what the Rust module exports, with the parameters it takes, so the
stub and the module cannot drift apart."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from datadog_checks.nvidia_nim import _core

STUB = Path(__file__).resolve().parent.parent / 'datadog_checks' / 'nvidia_nim' / '_core.pyi'


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding='utf-8'), filename=str(STUB))


def defined_names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """The names a stub body defines (classes, functions, annotated or assigned names)."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
    return names


def public(names: Any) -> set[str]:
    """Names not starting with `_` (the stub's typing-only names and the module's dunders)."""
    return {n for n in names if not n.startswith('_')}


def stub_parameters(function: ast.FunctionDef) -> list[tuple[str, bool]]:
    """(name, has a default) of each parameter but `self`."""
    args = function.args
    positional = args.posonlyargs + args.args
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    params = list(zip((a.arg for a in positional), defaults, strict=True))
    params += [(a.arg, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return [p for p in params if p[0] != 'self']


def runtime_parameters(function: Any) -> list[tuple[str, bool]]:
    signature = inspect.signature(function)
    return [
        (name, p.default is not inspect.Parameter.empty)
        for name, p in signature.parameters.items()
        if name not in ('self', '$self')
    ]


def test_the_stub_names_exactly_what_the_module_exports():
    stubbed = public(defined_names(stub_tree().body))
    exported = public(dir(_core))
    assert stubbed == exported, f'only in the stub: {stubbed - exported}; only in _core: {exported - stubbed}'
    assert set(_core.__all__) == exported


def test_the_stub_names_exactly_the_scraper_members():
    (scraper,) = [n for n in stub_tree().body if isinstance(n, ast.ClassDef) and n.name == 'Scraper']
    stubbed = public(defined_names(scraper.body))
    assert stubbed == public(dir(_core.Scraper))


def test_the_stub_gives_the_parameters_the_module_takes():
    tree = stub_tree()
    functions: list[tuple[ast.FunctionDef, Any]] = [
        (node, getattr(_core, node.name)) for node in tree.body if isinstance(node, ast.FunctionDef)
    ]
    (scraper,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == 'Scraper']
    for node in scraper.body:
        if isinstance(node, ast.FunctionDef) and node.name == '__init__':
            functions.append((node, _core.Scraper))
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith('_'):
            member = getattr(_core.Scraper, node.name)
            if not isinstance(member, property) and callable(member):
                functions.append((node, member))
    assert len(functions) == 4
    for node, runtime in functions:
        assert stub_parameters(node) == runtime_parameters(runtime), node.name


def test_record_kinds_are_distinct_integers_the_check_uses(aggregator):
    from datadog_checks.nvidia_nim import check

    names = sorted(n for n in public(dir(_core)) if n.startswith('REC_'))
    kinds = [getattr(_core, n) for n in names]
    assert len(names) == 6 and all(type(k) is int for k in kinds) and len(set(kinds)) == 6
    for name in names:
        assert getattr(check, name) is getattr(_core, name), name
    # the metric kinds are the aggregator's metric type codes (the core submits them as such)
    assert _core.REC_GAUGE == aggregator.GAUGE
    assert _core.REC_RATE == aggregator.RATE
    assert _core.REC_MONOTONIC_COUNT == aggregator.MONOTONIC_COUNT


def test_the_stub_gives_the_aggregator_target_parameters():
    (target,) = [n for n in stub_tree().body if isinstance(n, ast.ClassDef) and n.name == 'AggregatorTarget']
    (init,) = [n for n in target.body if isinstance(n, ast.FunctionDef) and n.name == '__init__']
    # keyword-only, as the module takes them: the fast path's fields are named
    assert init.args.kwonlyargs and not init.args.args[1:]
    assert stub_parameters(init) == runtime_parameters(_core.AggregatorTarget)
