"""The lean fork server's children: the worker's modules, not the CLI's.

A script that imports the whole CLI at the top, as the ``aws`` script does,
starts children from ``ChildContexts()``; they must have the worker's
modules (preloaded) and neither the CLI nor the script itself, where a child
of a plain ``forkserver`` context (the control) has both.
"""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = pathlib.Path(__file__).parents[2]
SCRIPT = textwrap.dedent('''\
    import json, multiprocessing, sys
    import awscli.clidriver  # what the aws script imports
    from awscli_ppdl.startmethods import ChildContexts
    from tests.spawnprobe import modules_loaded

    if __name__ == '__main__':
        if sys.argv[1] == 'lean':
            context = ChildContexts().later_workers
        else:
            context = multiprocessing.get_context('forkserver')
        with context.Pool(1) as pool:
            print(json.dumps(pool.apply(modules_loaded, (
                ['awscli.clidriver', 'awscli_ppdl.worker'],))))
''')


@pytest.mark.parametrize('kind, expected_modules, runs_the_script', [
    ('lean', {'awscli.clidriver': False, 'awscli_ppdl.worker': True}, False),
    ('plain', {'awscli.clidriver': True, 'awscli_ppdl.worker': False}, True),
])
def test_a_lean_child_has_the_workers_modules_only(
        kind, expected_modules, runs_the_script, tmp_path):
    script = tmp_path / 'aws_like.py'
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), kind], capture_output=True,
        text=True, timeout=120, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert result.returncode == 0, result.stderr
    modules, main_file = json.loads(result.stdout)
    assert modules == expected_modules
    assert (main_file == str(script)) is runs_the_script


def test_an_explicit_start_method_is_used_for_every_child():
    from awscli_ppdl.startmethods import ChildContexts

    contexts = ChildContexts('spawn')
    assert {contexts.first.get_start_method(),
            contexts.later_workers.get_start_method(),
            contexts.shared.get_start_method()} == {'spawn'}
    assert not contexts.forks
