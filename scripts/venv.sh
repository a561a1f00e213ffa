# Sourced by the scripts: `step`/`step_done` (one progress line per step, with its duration),
# `apt_install`, and .venv: made with $PYTHON (default python3, 3.11+; an older one is refused at
# once), with the pinned requirements installed again only when requirements-test.txt changed.
step_started=0
step() { step_started=$SECONDS; printf '==> %s\n' "$*"; }
step_done() { printf '    done in %d s\n' $((SECONDS - step_started)); }
apt_updated=''
apt_install() {  # PACKAGE...: Debian packages, reading the package lists first (a new machine has none)
  if [ -z "$apt_updated" ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  found=$("$PY" --version 2>/dev/null || echo "no runnable $PY")
  echo "needs Python 3.11 or newer with the venv module (found: $found); pick another with PYTHON=, e.g. PYTHON=python3.12 bash scripts/demo" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
  step_done
fi
requirements_stamp=".venv/.requirements-$(sha256sum requirements-test.txt | cut -c1-16)"
if [ ! -e "$requirements_stamp" ]; then
  step 'installing the pinned requirements (requirements-test.txt) into .venv'
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
  rm -f .venv/.requirements-*
  touch "$requirements_stamp"
  step_done
fi
# maturin finds zig (ziglang) and the tools through PATH
export PATH="$PWD/.venv/bin:$PATH"
