"""Helpers of `scripts/wheels`: derive the pure-Python wheel from a native one, and check wheels.

    python scripts/wheels.py pure NATIVE_WHEEL OUT_DIR   # writes the py3-none-any wheel
    python scripts/wheels.py check WHEEL_OR_SDIST ...    # one line per file; exit 1 on any problem

What `check` demands of every wheel: its file name and its WHEEL file agree on the tags; it ships
only `datadog_checks/nvidia_nim/` and its dist-info (never `datadog_checks/__init__.py`, which
datadog-checks-base owns); METADATA requires datadog-checks-base; the conf.d data files are in.
Per kind: the extension exports `PyInit__core`; a native wheel ships the extension module's types
(`_core.pyi`); a Linux wheel is manylinux2014 (auditwheel agrees) and needs no GLIBC symbol above
2.17; a Windows wheel is a PE32+ x86-64 DLL that exports only that and imports only python3.dll
(the stable ABI) and system DLLs; the pure wheel has neither extension nor stub; the sdist carries
the Rust and Python sources.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = 'datadog_checks/nvidia_nim/'
# the types of the extension module, which ship with it
CORE_STUB = PACKAGE + '_core.pyi'
DATA_FILES = (PACKAGE + 'data/conf.yaml.example', PACKAGE + 'data/auto_conf.yaml')
MAX_GLIBC = (2, 17)
# the module init function CPython looks up in `_core` (the only symbol the extension must export)
INIT_SYMBOL = 'PyInit__core'
# DLLs every Windows has (the C runtime included); anything else would have to ship in the wheel
WINDOWS_SYSTEM_DLLS = re.compile(
    r'(python3|kernel32|ntdll|advapi32|bcrypt|bcryptprimitives|userenv|ws2_32|msvcrt|api-ms-win-.*)\.dll', re.I
)
SDIST_MEMBERS = ('pyproject.toml', 'Cargo.toml', 'Cargo.lock', 'src/lib.rs', PACKAGE + 'check.py')


def dist_info(names: list[str], suffix: str) -> str:
    (name,) = [n for n in names if re.fullmatch(r'[^/]+\.dist-info/' + re.escape(suffix), n)]
    return name


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    return f'{name},sha256={digest},{len(data)}'


def make_pure(native: Path, out_dir: Path) -> Path:
    """The same distribution without the extension module, tagged py3-none-any."""
    dist, version = native.name.split('-')[:2]
    target = out_dir / f'{dist}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(native) as src:
        names = src.namelist()
        wheel_file, record = dist_info(names, 'WHEEL'), dist_info(names, 'RECORD')
        kept = [n for n in names if n not in (wheel_file, record, CORE_STUB) and not is_extension(n)]
        files = {n: src.read(n) for n in kept}
    generator = 'datadog-nvidia-nim scripts/wheels.py'
    files[wheel_file] = (
        f'Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: py3-none-any\n'.encode()
    )
    lines = [record_line(n, data) for n, data in files.items()] + [f'{record},,']
    files[record] = ('\n'.join(lines) + '\n').encode()
    with zipfile.ZipFile(target, 'w', zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            out.writestr(info, data, zipfile.ZIP_DEFLATED)
    return target


def is_extension(name: str) -> bool:
    return name.startswith(PACKAGE + '_core.') and name.endswith(('.so', '.pyd'))


def file_tags(wheel: Path) -> set[str]:
    """`py-abi-platform` tags named by the file name (each part may hold several, dot-separated)."""
    python, abi, platform = wheel.name[: -len('.whl')].split('-')[-3:]
    return {f'{p}-{a}-{pl}' for p in python.split('.') for a in abi.split('.') for pl in platform.split('.')}


def glibc_needed(shared_object: Path) -> tuple[int, ...]:
    """The highest GLIBC_x.y symbol version the shared object needs (readelf reads any ELF)."""
    symbols = subprocess.run(['readelf', '--dyn-syms', '-W', str(shared_object)], capture_output=True, text=True)
    versions = {tuple(map(int, v.split('.'))) for v in re.findall(r'GLIBC_([0-9]+(?:\.[0-9]+)+)', symbols.stdout)}
    return max(versions, default=())


def check_linux(wheel: Path, extension: Path, problems: list[str]) -> str:
    symbols = subprocess.run(['readelf', '--dyn-syms', '-W', str(extension)], capture_output=True, text=True).stdout
    if not re.search(r'\bFUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+' + INIT_SYMBOL + r'$', symbols, re.M):
        problems.append(f'does not export {INIT_SYMBOL}')
    glibc = glibc_needed(extension)
    if not glibc or glibc > MAX_GLIBC:
        problems.append(f'needs GLIBC {glibc}, above {MAX_GLIBC}')
    if not any('manylinux2014' in t or 'manylinux_2_17' in t for t in file_tags(wheel)):
        problems.append('not tagged manylinux2014')
    show = subprocess.run([sys.executable, '-m', 'auditwheel', 'show', str(wheel)], capture_output=True, text=True)
    if 'consistent with the following platform tag: "manylinux_2_17' not in ' '.join(show.stdout.split()):
        problems.append('auditwheel: ' + ' '.join(show.stdout.split())[:300])
    return f'max GLIBC_{".".join(map(str, glibc))}, auditwheel: manylinux_2_17'


def check_windows(extension: Path, problems: list[str]) -> str:
    dump = subprocess.run(['objdump', '-p', str(extension)], capture_output=True, text=True).stdout
    if 'pei-x86-64' not in dump:
        problems.append('not a PE32+ x86-64 DLL')
    exports = re.findall(r'^\s*\[\s*\d+\] (\w+)$', dump.split('[Ordinal/Name Pointer] Table')[-1], re.M)
    if exports != [INIT_SYMBOL]:
        problems.append(f'exports {exports}, not only {INIT_SYMBOL}')
    dlls = sorted(set(re.findall(r'DLL Name: (\S+)', dump)))
    foreign = [d for d in dlls if not WINDOWS_SYSTEM_DLLS.fullmatch(d)]
    if 'python3.dll' not in dlls or foreign:
        problems.append(f'imports {dlls} (not only python3.dll and system DLLs)')
    return 'imports ' + ', '.join(dlls)


def check_wheel(wheel: Path) -> tuple[str, list[str]]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        names = zf.namelist()
        wheel_text = zf.read(dist_info(names, 'WHEEL')).decode()
        metadata = zf.read(dist_info(names, 'METADATA')).decode()
        extensions = [n for n in names if is_extension(n)]
        if extensions:
            zf.extract(extensions[0], tmp)
        declared = set(re.findall(r'^Tag: (\S+)$', wheel_text, re.M))
        if declared != file_tags(wheel):
            problems.append(f'WHEEL tags {sorted(declared)} differ from the file name')
        if 'datadog_checks/__init__.py' in names:
            problems.append('ships datadog_checks/__init__.py (datadog-checks-base owns it)')
        outside = [n for n in names if not n.startswith(PACKAGE) and '.dist-info/' not in n]
        if outside:
            problems.append(f'files outside {PACKAGE}: {outside}')
        requires = re.findall(r'^Requires-Dist: (.*)$', metadata, re.M)
        if not requires or not all(r.startswith('datadog-checks-base') for r in requires):
            problems.append(f'Requires-Dist is {requires}, not datadog-checks-base')
        problems += [f'missing {n}' for n in DATA_FILES if n not in names]
        pure = wheel.name.endswith('-py3-none-any.whl')
        if pure:
            detail = 'no extension module'
            if extensions or CORE_STUB in names:
                problems.append(f'a pure wheel with {extensions or [CORE_STUB]}')
        elif CORE_STUB not in names:
            problems.append(f'missing {CORE_STUB}')
            detail = ''
        elif len(extensions) != 1:
            problems.append(f'{len(extensions)} extension modules')
            detail = ''
        elif 'abi3' not in wheel.name:
            problems.append('not abi3')
            detail = ''
        elif 'linux' in wheel.name:
            detail = check_linux(wheel, Path(tmp, extensions[0]), problems)
        elif 'win_amd64' in wheel.name:
            detail = check_windows(Path(tmp, extensions[0]), problems)
        else:
            problems.append('unexpected platform')
            detail = ''
    return detail, problems


def check_sdist(sdist: Path) -> tuple[str, list[str]]:
    with tarfile.open(sdist) as tf:
        names = {n.split('/', 1)[1] for n in tf.getnames() if '/' in n}
    missing = [m for m in SDIST_MEMBERS if m not in names]
    return f'{len(names)} files', [f'missing {m}' for m in missing]


def check(paths: list[Path]) -> int:
    failed = 0
    for path in paths:
        detail, problems = check_sdist(path) if path.name.endswith('.tar.gz') else check_wheel(path)
        status = 'ok' if not problems else 'FAILED: ' + '; '.join(problems)
        print(f'  {path.name}: {detail}: {status}')
        failed += bool(problems)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == 'pure':
        print(make_pure(Path(argv[1]), Path(argv[2])))
        return 0
    if len(argv) >= 2 and argv[0] == 'check':
        return check([Path(p) for p in argv[1:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
