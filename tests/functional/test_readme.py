"""README.rst stays true: it renders, and its examples run as written.

The blocks are taken from the README itself (each follows a comment
``.. readme-test: NAME``), so an edit to an example is what gets tested.
They run against moto's server with the bucket the README names,
``amzn-s3-demo-bucket``, seeded here with the objects the examples
download. The only things added to them are the endpoint (``--endpoint-url``
for the shell lines, ``AWS_ENDPOINT_URL_S3`` for the Python example) and an
isolated AWS config and credentials (``tests.s3server.make_aws_env``).
``./scripts/demo`` and ``./scripts/test`` are run by test_demo.py and CI.
"""
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from docutils import nodes
from docutils.core import publish_doctree

from tests.s3server import (
    empty_and_delete_bucket, make_aws_env, make_s3_client, run_aws)

REPO = Path(__file__).resolve().parents[2]
README = REPO / 'README.rst'
BUCKET = 'amzn-s3-demo-bucket'
MiB = 1024 * 1024


def _tar_of(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


TAR_MEMBERS = {'backup/notes.txt': b'restored\n' * 100,
               'backup/data.bin': os.urandom(300 * 1024)}
OBJECTS = {
    # The Python example passes expected_size=1200 for this one.
    'reports/summary.txt': b'Quarterly summary: all green.\n' * 40,
    'logs/a.log': b'a\n' * 1000,
    'logs/2026/b.log': b'b\n' * 1000,
    'logs/c.tmp': b'not a log',
    'backup.tar': _tar_of(TAR_MEMBERS),
    # Above the 8 MiB threshold of the examples: three ranged GETs.
    'datasets/large.bin': os.urandom(17 * MiB + 12345),
}


def _doctree(path):
    return publish_doctree(
        path.read_text(encoding='utf-8'), source_path=str(path),
        settings_overrides={'halt_level': 2, 'report_level': 2,
                            'warning_stream': io.StringIO()})


def marked_block(name):
    """The text of the literal block after ``.. readme-test: NAME``."""
    doctree = _doctree(README)
    for comment in doctree.findall(nodes.comment):
        if comment.astext().split()[:2] != ['readme-test:', name]:
            continue
        following = comment.next_node(nodes.literal_block, include_self=False,
                                      descend=False, siblings=True)
        assert following is not None, f'no block after readme-test: {name}'
        return following.astext()
    raise AssertionError(f'README.rst has no ".. readme-test: {name}"')


def literal_lines(section_title, prefix):
    """The lines starting with ``prefix`` in the literal blocks of a
    section."""
    doctree = _doctree(README)
    for section in doctree.findall(nodes.section):
        if section[0].astext() != section_title:
            continue
        return [line for block in section.findall(nodes.literal_block)
                for line in block.astext().splitlines()
                if line.startswith(prefix)]
    raise AssertionError(f'README.rst has no section {section_title!r}')


@pytest.mark.parametrize('path', [README, REPO / 'docs' / 'design.rst'],
                         ids=lambda p: p.name)
def test_renders_without_warnings(path):
    """As ``python -m docutils --halt=warning``: setup.cfg's
    long_description is README.rst, so a warning breaks its page."""
    _doctree(path)


@pytest.fixture(scope='module')
def readme_bucket(s3_server):
    client = make_s3_client(s3_server.endpoint_url)
    client.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    yield BUCKET
    empty_and_delete_bucket(client, BUCKET)
    client.close()


def test_install_registration_and_usage_lines_run_as_written(
        s3_server, readme_bucket, tmp_path):
    env = make_aws_env(tmp_path / 'aws')
    with open(env.config_file, 'w') as f:   # no plugin yet
        f.write('[default]\nregion = us-east-1\n')
    work = tmp_path / 'work'
    work.mkdir()
    usage = [line for line in marked_block('usage').splitlines()
             if line.strip()]
    assert usage and all(line.startswith('aws s3 ppcp ') for line in usage)

    def sh(line):
        line = line.replace('aws s3 ppcp ', 'aws s3 ppcp --endpoint-url '
                            f'{s3_server.endpoint_url} ', 1)
        return subprocess.run(['bash', '-o', 'pipefail', '-c', line],
                              cwd=work, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)

    before = sh(usage[0])
    assert before.returncode != 0 and 'Invalid choice' in before.stderr

    registration = literal_lines('Install and register', 'aws ')
    assert registration == ['aws configure set plugins.ppcp awscli_ppdl']
    settings = literal_lines('Usage', 'aws configure ')
    assert settings == [
        'aws configure set default.s3.max_concurrent_requests 64']
    for line in registration + settings:
        result = sh(line)
        assert result.returncode == 0, result.stderr
    config = env.read_config()
    assert 'ppcp = awscli_ppdl' in config
    assert 'max_concurrent_requests = 64' in config

    for line in usage:
        result = sh(line)
        assert result.returncode == 0, (line, result.stdout, result.stderr)

    assert (work / 'summary.txt').read_bytes() == OBJECTS[
        'reports/summary.txt']
    logs = sorted(str(p.relative_to(work / 'logs'))
                  for p in (work / 'logs').rglob('*') if p.is_file())
    assert logs == ['2026/b.log', 'a.log']
    assert (work / 'logs' / '2026' / 'b.log').read_bytes() == OBJECTS[
        'logs/2026/b.log']
    for name, body in TAR_MEMBERS.items():
        assert (work / name).read_bytes() == body
    assert (work / 'large.bin').read_bytes() == OBJECTS['datasets/large.bin']
    assert not list(work.rglob('*.ppcp-tmp'))


@pytest.mark.skipif(shutil.which('groff') is None,
                    reason='aws help renders its pages with groff')
def test_help_shows_what_the_readme_says(tmp_path):
    """``aws s3 ppcp help`` shows ``--processes``, ``--files-from``,
    ``--no-resume`` and examples."""
    env = make_aws_env(tmp_path / 'aws')
    env['PAGER'] = 'cat'
    result = run_aws(['s3', 'ppcp', 'help'], env)
    assert result.returncode == 0, result.stderr
    text = re.sub('.\b', '', result.stdout)   # groff's overstrike
    assert '--processes' in text
    assert 'Example 4: Choosing the number of worker processes' in text
    assert '--files-from' in text
    assert 'Example 5: Downloading the objects a list names' in text
    assert '--no-resume' in text
    assert 'Example 6: Resuming an interrupted download' in text


def test_python_api_example_downloads_what_it_says(
        s3_server, readme_bucket, tmp_path):
    example = marked_block('python-api')
    assert 'ProcessPoolDownloader' in example
    script = tmp_path / 'example.py'
    script.write_text(example)
    work = tmp_path / 'work'
    work.mkdir()
    env = make_aws_env(tmp_path / 'aws')
    env['AWS_ENDPOINT_URL_S3'] = s3_server.endpoint_url
    result = subprocess.run(
        [sys.executable, str(script)], cwd=work, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    large = OBJECTS['datasets/large.bin']
    assert result.stdout == f'datasets/large.bin: {len(large)} bytes\n'
    assert (work / 'large.bin').read_bytes() == large
    assert (work / 'summary.txt').read_bytes() == OBJECTS[
        'reports/summary.txt']
    assert sorted(p.name for p in work.iterdir()) == ['large.bin',
                                                      'summary.txt']


def test_the_two_commands_exist_as_the_readme_names_them():
    """``./scripts/demo`` (run by test_demo.py through the script it
    execs) and ``./scripts/test`` (CI's command)."""
    lines = literal_lines('Try it: two commands', './')
    assert lines == ['./scripts/demo', './scripts/test']
    for line in lines:
        assert os.access(REPO / line, os.X_OK), line
    assert 'PYTHON=$python ./scripts/test' in (REPO / '.ci' / 'run').read_text()


PUBLIC_NAMES = ('ProcessPoolDownloader', 'ProcessTransferConfig',
                'ProcessPoolTransferFuture', 'ProcessPoolTransferMeta',
                'ProcessPoolBrokenError')


def test_the_readme_lists_the_public_names():
    doctree = _doctree(README)
    listed = [term.astext().split('(')[0]
              for section in doctree.findall(nodes.section)
              if section[0].astext() == 'Python API'
              for term in section.findall(nodes.term)]
    assert tuple(listed) == PUBLIC_NAMES


def test_the_public_names_are_what_the_readme_says():
    import awscli_ppdl
    from s3transfer.futures import BaseTransferFuture, BaseTransferMeta

    for name in PUBLIC_NAMES:
        assert getattr(awscli_ppdl, name) is not None, name
    assert issubclass(awscli_ppdl.ProcessPoolTransferFuture,
                      BaseTransferFuture)
    meta = awscli_ppdl.ProcessPoolTransferMeta
    assert issubclass(meta, BaseTransferMeta)
    for attribute in ('transfer_id', 'call_args', 'user_context'):
        assert isinstance(getattr(meta, attribute), property), attribute
