# Sourced by scripts/demo and scripts/test: a virtualenv with the plugin
# (editable) and everything the tests and the demo need. Idempotent: pip is
# only run again when setup.cfg changes.
#
# Without PYTHON it is .venv, made by python3. With PYTHON=... (as .ci/run
# does, once per Python) it is .venv-X.Y, one per Python version, so a run on
# another Python never reinstalls, or runs in, the default one.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "awscli-ppdl needs Python 3.10 or newer (as AWS CLI 1.46 does); $python is $("$python" -V 2>&1 || echo missing). Run with PYTHON=python3.11, for example." >&2
    exit 1
fi
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -n "${PYTHON:-}" ]; then
    venv="$repo_root/.venv-$python_version"
else
    venv="$repo_root/.venv"
fi
# One run at a time makes or installs into a virtualenv (two at once would
# run pip into the same one): the lock is on this script, held until the
# virtualenv is ready.
if command -v flock >/dev/null; then
    exec {venv_lock}<"${BASH_SOURCE[0]}"
    flock "$venv_lock"
fi
# A virtualenv runs the interpreter that made it: one whose Python is gone,
# or is now another version (python3 upgraded), is made again.
if [ -e "$venv" ] && [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$python_version" ]; then
    echo "$venv was not made by Python $python_version (or its Python is gone): making it again." >&2
    rm -rf "$venv"
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
if [ -n "${venv_lock:-}" ]; then
    exec {venv_lock}<&-
fi
export PATH="$venv/bin:$PATH"
