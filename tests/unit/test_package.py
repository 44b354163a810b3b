"""The package's public names, that registering the plugin stays free, and
how it installs."""
import configparser
import os
import pathlib
import re
import subprocess
import sys

import pytest

PROBE = '''
import sys, awscli_ppdl
loaded_at_import = 'awscli_ppdl.processpool' in sys.modules
from awscli_ppdl import ProcessPoolDownloader, ProcessTransferConfig
from awscli_ppdl.processpool import ProcessPoolDownloader as Original
print(loaded_at_import, ProcessPoolDownloader is Original)
'''


def test_the_engine_is_exported_but_imported_only_on_first_use():
    result = subprocess.run([sys.executable, '-c', PROBE],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ['False', 'True']


S3_TABLE_PROBE = '''
import sys
from awscli.clidriver import create_clidriver
driver = create_clidriver()
s3_table = driver._get_command_table()['s3'].subcommand_table
print('ppcp' in s3_table, 'awscli_ppdl.processpool' in sys.modules)
'''


def test_building_the_s3_command_table_does_not_import_the_engine(tmp_path):
    """Every ``aws s3`` command builds the table ``ppcp`` is in; only
    ``ppcp`` itself needs the engine."""
    config = tmp_path / 'config'
    config.write_text('[plugins]\nppcp = awscli_ppdl\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('AWS_')}
    env['AWS_CONFIG_FILE'] = str(config)
    result = subprocess.run([sys.executable, '-c', S3_TABLE_PROBE], env=env,
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ['True', 'False']


def test_unknown_names_still_raise_attribute_error():
    import awscli_ppdl

    try:
        awscli_ppdl.NoSuchThing
    except AttributeError as error:
        assert 'NoSuchThing' in str(error)
    else:
        raise AssertionError('expected AttributeError')


REPO = pathlib.Path(__file__).resolve().parents[2]


def test_pip_builds_the_project_with_a_declared_backend():
    tomllib = pytest.importorskip('tomllib')
    build_system = tomllib.loads(
        (REPO / 'pyproject.toml').read_text())['build-system']
    assert build_system['build-backend'] == 'setuptools.build_meta'
    assert any(r.startswith('setuptools') for r in build_system['requires'])


def _install_requires():
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    lines = config['options']['install_requires'].splitlines()
    return [re.match(r'[A-Za-z0-9_.-]+', line).group(0)
            for line in lines if line.strip() and not line.lstrip().startswith('#')]


CODE_OF = '''
import importlib, importlib.metadata, pathlib, sys
import awscli
name = sys.argv[1]
module = importlib.import_module(name.replace('-', '_'))
files = {str(f.locate().resolve()) for f in importlib.metadata.files(name)}
print(str(pathlib.Path(module.__file__).resolve()) in files)
'''


def test_every_installed_requirement_is_the_copy_that_runs():
    """awscli vendors botocore and s3transfer: requiring the standalone
    packages installs code the plugin never imports."""
    for name in _install_requires():
        result = subprocess.run([sys.executable, '-c', CODE_OF, name],
                                capture_output=True, text=True, check=True)
        assert result.stdout.split() == ['True'], name


def test_an_old_python_is_named_when_the_metadata_is_built():
    """Before setuptools is imported: a virtualenv of Python 3.12 or newer
    has none (a PEP 517 build brings its own), and the message must not
    depend on it, so the probe makes it unimportable on every Python."""
    probe = ("import sys; sys.modules['setuptools'] = None; "
             "sys.version_info = (3, 9, 18, 'final', 0); "
             "sys.argv = ['setup.py', '--version']; "
             "exec(compile(open('setup.py').read(), 'setup.py', 'exec'))")
    result = subprocess.run([sys.executable, '-c', probe], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'awscli-ppdl needs Python 3.10 or newer (as AWS CLI 1.46 does); '
        'this is Python 3.9.18')


def test_the_oldest_python_is_the_same_everywhere():
    """python_requires, the lowest version classifier, setup.py's check and
    the scripts' check name one oldest Python."""
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    required = re.fullmatch(r'>=\s*3\.(\d+)',
                            config['options']['python_requires'].strip())
    classified = [int(m) for m in re.findall(
        r'Programming Language :: Python :: 3\.(\d+)',
        config['metadata']['classifiers'])]
    assert required and classified
    oldest = int(required.group(1))
    assert min(classified) == oldest
    assert sorted(classified) == list(range(oldest, max(classified) + 1))
    assert f'sys.version_info < (3, {oldest})' in (
        REPO / 'setup.py').read_text()
    assert f'sys.version_info < (3, {oldest})' in (
        REPO / 'scripts' / '_venv.sh').read_text()
