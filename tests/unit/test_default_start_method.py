"""Python 3.14's default start method (``forkserver`` on Linux), emulated
on older Pythons by ``tests/startup_hooks`` (``--default-start-method``
in ``tests/conftest.py``), and what the engine does under it."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import STARTUP_HOOKS_DIR, DEFAULT_START_METHOD_VAR
from tests.s3server import REPO_ROOT, VENV_BIN, make_aws_env

DEFAULTS = textwrap.dedent('''\
    import json, multiprocessing, sys
    chosen = multiprocessing.get_start_method(allow_none=True)
    print(json.dumps([chosen, multiprocessing.get_context().get_start_method()]))
''')
CONTEXTS = textwrap.dedent('''\
    import json, multiprocessing
    from awscli_ppdl.startmethods import ChildContexts

    def methods(contexts):
        return [contexts.first.get_start_method(),
                contexts.later_workers.get_start_method(),
                contexts.shared.get_start_method()]

    print(json.dumps({
        'one worker': methods(ChildContexts(None, workers=1)),
        'many workers': methods(ChildContexts(None, workers=10)),
        'spawn': methods(ChildContexts('spawn')),
        'still unchosen': multiprocessing.get_start_method(allow_none=True),
    }))
''')


def emulating(method):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [STARTUP_HOOKS_DIR, REPO_ROOT]))
    env[DEFAULT_START_METHOD_VAR] = method
    return env


def run_python(code, env):
    result = subprocess.run([sys.executable, '-c', code], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_default_changes_without_being_chosen():
    """As on 3.14: code that chooses no method gets forkserver, and
    ``get_start_method(allow_none=True)`` still says none was chosen."""
    chosen, default = run_python(DEFAULTS, emulating('forkserver'))
    assert (chosen, default) == (None, 'forkserver')


def test_the_engine_picks_its_methods_whatever_the_default():
    """``start_method=None`` means the engine's own choice (forked first
    children, lean later workers when there are enough of them), not the
    platform default; and it never fixes the process's default."""
    assert run_python(CONTEXTS, emulating('forkserver')) == {
        'one worker': ['fork', 'fork', 'fork'],
        'many workers': ['fork', 'forkserver', 'forkserver'],
        'spawn': ['spawn', 'spawn', 'spawn'],
        'still unchosen': None,
    }


def test_the_aws_commands_of_the_tests_get_the_chosen_default(
        request, tmp_path):
    method = request.config.getoption('--default-start-method')
    if not method:
        pytest.skip('the suite runs with this Python\'s default start method')
    env = make_aws_env(tmp_path / 'aws')
    result = subprocess.run(
        [os.path.join(VENV_BIN, 'python'), '-c', DEFAULTS], env=env,
        capture_output=True, text=True, timeout=120, check=True)
    chosen, default = json.loads(result.stdout)
    assert (chosen, default) == (None, method)
    import multiprocessing
    assert multiprocessing.get_context().get_start_method() == method
