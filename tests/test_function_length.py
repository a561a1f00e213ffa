"""Every function reads in one screen: no Rust `fn` under `src/` and no Python `def` under
`datadog_checks/` is longer than `MAX_LINES` lines, counted from the line of `fn`/`def` to the
last line of its body (a nested function counts in its own length and in its parent's).

Run as a script to list the longest ones: `python tests/test_function_length.py`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_module_graph import strip_non_code

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 80

# Functions allowed to be longer, each entry `path:function` with its reason (none today).
ALLOWED: set[str] = set()

RUST_FN = re.compile(r'(?<![A-Za-z0-9_])fn\s+([A-Za-z_][A-Za-z0-9_]*)')


def rust_functions(path: Path) -> list[tuple[str, int, int]]:
    """`(name, first line, line count)` of every function with a body in a Rust file."""
    code = strip_non_code(path.read_text(encoding='utf-8'))
    found = []
    for match in RUST_FN.finditer(code):
        body = _body_start(code, match.end())
        if body is None:
            continue
        end = _closing_brace(code, body)
        first = code.count('\n', 0, match.start()) + 1
        last = code.count('\n', 0, end) + 1
        found.append((match.group(1), first, last - first + 1))
    return found


def _body_start(code: str, pos: int) -> int | None:
    """Where the body's `{` is, or None for a declaration without one (`fn f();`)."""
    depth = 0
    for i in range(pos, len(code)):
        c = code[i]
        if c in '([':
            depth += 1
        elif c in ')]':
            depth -= 1
        elif depth == 0 and c == ';':
            return None
        elif depth == 0 and c == '{':
            return i
    return None


def _closing_brace(code: str, start: int) -> int:
    depth = 0
    for i in range(start, len(code)):
        if code[i] == '{':
            depth += 1
        elif code[i] == '}':
            depth -= 1
            if depth == 0:
                return i
    return len(code)


def python_functions(path: Path) -> list[tuple[str, int, int]]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    return [
        (node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def all_functions() -> list[tuple[str, str, int, int]]:
    """`(path, name, first line, line count)` of every function checked."""
    found = []
    for path in sorted((ROOT / 'src').rglob('*.rs')):
        rel = path.relative_to(ROOT).as_posix()
        found += [(rel, *f) for f in rust_functions(path)]
    for path in sorted((ROOT / 'datadog_checks').rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        found += [(rel, *f) for f in python_functions(path)]
    return found


def test_no_function_is_longer_than_a_screen():
    functions = all_functions()
    assert len(functions) > 100  # the scan finds the code
    offenders = [
        f'{path}:{line} {name} ({count} lines)'
        for path, name, line, count in functions
        if count > MAX_LINES and f'{path}:{name}' not in ALLOWED
    ]
    assert not offenders, 'functions longer than {} lines:\n{}'.format(MAX_LINES, '\n'.join(offenders))


def test_the_scan_measures_rust_and_python_functions(tmp_path):
    rust = tmp_path / 'x.rs'
    rust.write_text(
        'trait T {\n    fn declared(&self);\n}\n'
        'fn outer(a: [u8; 2]) -> u8 {\n    let s = "}";\n    // }\n    fn inner() {}\n    a[0]\n}\n'
    )
    assert rust_functions(rust) == [('outer', 4, 6), ('inner', 7, 1)]
    python = tmp_path / 'x.py'
    python.write_text('def f():\n    """\n    }\n    """\n    return 1\n')
    assert python_functions(python) == [('f', 1, 5)]


if __name__ == '__main__':  # pragma: no cover
    for path, name, line, count in sorted(all_functions(), key=lambda f: -f[3])[:30]:
        print(f'{count:4} {path}:{line} {name}')
