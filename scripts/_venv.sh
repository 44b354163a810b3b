# Sourced by scripts/demo and scripts/test: one virtualenv in .venv with the
# plugin (editable) and everything the tests and the demo need. Idempotent:
# pip is only run again when setup.cfg changes.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo_root/.venv"
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "awscli-ppdl needs Python 3.10 or newer (as AWS CLI 1.46 does); $python is $("$python" -V 2>&1 || echo missing). Run with PYTHON=python3.11, for example." >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
        echo "Could not create a virtualenv with $python (on Debian/Ubuntu: apt-get install python3-venv)." >&2
        exit 1
    }
fi
stamp="$venv/.installed-$(sha256sum "$repo_root/setup.cfg" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    log="$venv/pip-install.log"
    echo "Installing awscli-ppdl and its test dependencies into $venv (log: $log)..." >&2
    if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
           "$venv/bin/python" -m pip install --disable-pip-version-check -e "$repo_root[test]"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        exit 1
    fi
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
