"""The download tools being compared, and exactly how each one is invoked.

Every tool gets the same endpoint, the same dummy credentials, region
us-east-1, an AWS config file of its own (so nothing from ~/.aws leaks in),
and a fresh empty download directory.  Each must leave in that directory one
file per object, named as the key relative to the data set's prefix.

* ``ppcp``  ``aws s3 ppcp``: this project (config with ``[plugins]``).
* ``cp``    ``aws s3 cp`` with default settings (10 threads).
* ``cp20``  ``aws s3 cp`` with ``max_concurrent_requests = 20``.
* ``ppcp@N``, ``cp@N``  either with ``max_concurrent_requests = N`` in the
  profile (run only when named): to measure what the requests in flight do.
* ``seed``  s3transfer's ``ProcessPoolDownloader`` (seed_downloader.py).
* ``s5cmd`` s5cmd (Go) with its defaults.
* ``curl``  a raw reference: what plain HTTP GETs achieve on this machine.
"""
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
MIB = 1024 * 1024

ACCESS_KEY = 'ppdl-bench'
SECRET_KEY = 'ppdl-bench-secret'
REGION = 'us-east-1'

CURL_RANGE_PARTS = 8          # parallel range GETs for a single object
CURL_MIN_PART = 1 * MIB       # below 2 parts' worth: one plain GET
CURL_PARALLEL_MAX = 16        # concurrent transfers for many objects

BASE_CONFIG = f'[default]\nregion = {REGION}\n'
PLUGIN_CONFIG = f'[plugins]\nppcp = awscli_ppdl\n\n{BASE_CONFIG}'
VARIANT = re.compile(r'^(ppcp|cp)@([1-9][0-9]*)$')


@dataclass
class BenchContext:
    """What every tool needs to know about the running benchmark."""

    toolchain: object            # toolchain.Toolchain
    endpoint_url: str
    bucket: str
    scratch_dir: Path            # config files and generated scripts
    server_name: str = 'seaweedfs'
    ca_bundle: Optional[Path] = None  # the self-signed certificate (HTTPS)


@dataclass
class Invocation:
    argv: list
    env: dict
    files: dict = field(default_factory=dict)  # path -> text, written first


def client_env(ctx, config_text, config_name):
    """A clean environment: the caller's minus anything AWS or proxy, plus
    the benchmark's credentials and a config file written for this tool."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('AWS_')
           and k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy')
           # Let Python cache bytecode (the editable project has no .pyc
           # from pip), so every run measures a warm start, as a user sees.
           and k != 'PYTHONDONTWRITEBYTECODE'}
    config_path = ctx.scratch_dir / f'{config_name}.config'
    config_path.write_text(config_text)
    env.update({
        'AWS_ACCESS_KEY_ID': ACCESS_KEY,
        'AWS_SECRET_ACCESS_KEY': SECRET_KEY,
        'AWS_DEFAULT_REGION': REGION,
        'AWS_REGION': REGION,
        'AWS_CONFIG_FILE': str(config_path),
        'AWS_SHARED_CREDENTIALS_FILE': str(ctx.scratch_dir / 'no-credentials'),
        'AWS_EC2_METADATA_DISABLED': 'true',
        'NO_PROXY': '127.0.0.1,localhost',
        'no_proxy': '127.0.0.1,localhost',
    })
    if ctx.ca_bundle:
        # botocore (aws, the seed) reads AWS_CA_BUNDLE; Go (s5cmd) reads
        # SSL_CERT_FILE.
        env.update(AWS_CA_BUNDLE=str(ctx.ca_bundle),
                   SSL_CERT_FILE=str(ctx.ca_bundle))
    return env


class Tool:
    name = ''
    description = ''

    def unavailable_reason(self, ctx) -> Optional[str]:
        """None if the tool can run, else why it is skipped."""
        return None

    def invocation(self, ctx, dataset, dest_dir) -> Invocation:
        raise NotImplementedError


class AwsS3Tool(Tool):
    """``aws s3 <subcommand>``: by key for single objects, else --recursive."""

    def __init__(self, name, subcommand, config_text, description,
                 extra_args=()):
        self.name = name
        self.subcommand = subcommand
        self.config_text = config_text
        self.description = description
        self.extra_args = list(extra_args)

    def invocation(self, ctx, dataset, dest_dir):
        aws = str(ctx.toolchain.aws)
        if dataset.single_object:
            obj = dataset.objects[0]
            paths = [f's3://{ctx.bucket}/{dataset.key(obj)}',
                     str(Path(dest_dir) / obj.name)]
        else:
            paths = [f's3://{ctx.bucket}/{dataset.prefix}', f'{dest_dir}/',
                     '--recursive']
        argv = [aws, 's3', self.subcommand, *paths, *self.extra_args,
                '--endpoint-url', ctx.endpoint_url]
        return Invocation(argv, client_env(ctx, self.config_text, self.name))


class PpcpTool(AwsS3Tool):
    def __init__(self, name, description, extra_args=(), s3_config=''):
        super().__init__(name, 'ppcp', PLUGIN_CONFIG + s3_config, description,
                         extra_args)
        self._reason = None
        self._checked = False

    def unavailable_reason(self, ctx):
        if self._checked:
            return self._reason
        self._checked = True
        if ctx.toolchain.project_install_error:
            self._reason = ctx.toolchain.project_install_error
            return self._reason
        env = client_env(ctx, PLUGIN_CONFIG, 'ppcp-check')
        env['PAGER'] = 'cat'
        proc = subprocess.run([str(ctx.toolchain.aws), 's3', 'ppcp', 'help'],
                              env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=120)
        if proc.returncode != 0:
            output = ' '.join(proc.stdout.split())[-500:]
            self._reason = (f'`aws s3 ppcp help` exited {proc.returncode}: '
                            f'{output}')
        return self._reason


class SeedTool(Tool):
    name = 'seed'
    description = ('s3transfer `ProcessPoolDownloader` (the seed design), '
                   'default config: 10 processes, 8 MiB parts')

    def unavailable_reason(self, ctx):
        python = ctx.toolchain.seed_python
        if python is None:
            return 'seed venv not set up'
        proc = subprocess.run([str(python), '-c',
                               'import s3transfer.processpool'],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            return f'cannot import s3transfer.processpool: {proc.stdout}'
        return None

    def invocation(self, ctx, dataset, dest_dir):
        argv = [str(ctx.toolchain.seed_python),
                str(BENCH_DIR / 'seed_downloader.py'),
                '--endpoint-url', ctx.endpoint_url, '--bucket', ctx.bucket,
                '--dest', str(dest_dir)]
        if dataset.single_object:
            argv += ['--key', dataset.key(dataset.objects[0])]
        else:
            argv += ['--prefix', dataset.prefix]
        return Invocation(argv, client_env(ctx, BASE_CONFIG, 'seed'))


class S5cmdTool(Tool):
    name = 's5cmd'
    description = 's5cmd (Go), default settings (256 workers, 50 MiB parts)'

    def invocation(self, ctx, dataset, dest_dir):
        s5cmd = str(ctx.toolchain.s5cmd)
        if dataset.single_object:
            obj = dataset.objects[0]
            source = f's3://{ctx.bucket}/{dataset.key(obj)}'
            target = str(Path(dest_dir) / obj.name)
        else:
            source = f's3://{ctx.bucket}/{dataset.prefix}*'
            target = f'{dest_dir}/'
        argv = [s5cmd, '--endpoint-url', ctx.endpoint_url, 'cp', source,
                target]
        return Invocation(argv, client_env(ctx, BASE_CONFIG, 's5cmd'))


class CurlTool(Tool):
    """Plain HTTP GETs with curl: the machine's reference, not an S3 client.

    It needs no listing (the harness hands it the key list).  Requests are
    signed with curl's own SigV4 (``--aws-sigv4``) and the benchmark's
    credentials, like an S3 client's, so it works whether or not the
    server allows anonymous reads.  A single object of at least two 1 MiB
    parts is fetched as up to 8 parallel range GETs, each piped into ``dd``
    writing at the range's offset in the one output file; many objects go
    through one ``curl --parallel`` (16 at a time, keep-alive).
    """

    name = 'curl'
    description = (f'curl: {CURL_RANGE_PARTS} parallel range GETs into one '
                   f'file (large); `--parallel --parallel-max '
                   f'{CURL_PARALLEL_MAX}` over the key list (many objects); '
                   'SigV4-signed by curl; no listing (it is given the keys)')

    def unavailable_reason(self, ctx):
        if not ctx.toolchain.curl:
            return 'curl not found on PATH'
        return None

    def _url(self, ctx, dataset, obj):
        return f'{ctx.endpoint_url}/{ctx.bucket}/{dataset.key(obj)}'

    def invocation(self, ctx, dataset, dest_dir):
        curl = ctx.toolchain.curl
        env = client_env(ctx, BASE_CONFIG, 'curl')
        common = ['--fail', '--silent', '--show-error',
                  '--aws-sigv4', f'aws:amz:{REGION}:s3',
                  '--user', f'{ACCESS_KEY}:{SECRET_KEY}']
        if ctx.ca_bundle:
            common += ['--cacert', str(ctx.ca_bundle)]
        if dataset.single_object:
            obj = dataset.objects[0]
            url = self._url(ctx, dataset, obj)
            out = Path(dest_dir) / obj.name
            parts = min(CURL_RANGE_PARTS, obj.size // CURL_MIN_PART)
            if parts < 2:
                return Invocation([curl, *common, '-o', str(out), url], env)
            script = self._range_script(curl, common, url, out, obj.size,
                                        parts)
            script_path = ctx.scratch_dir / f'curl-ranges-{dataset.name}.sh'
            return Invocation(['/bin/bash', str(script_path)], env,
                              files={script_path: script})
        lines = []
        for obj in dataset.objects:
            lines.append(f'url = "{self._url(ctx, dataset, obj)}"')
            lines.append(f'output = "{Path(dest_dir) / obj.name}"')
        config_path = ctx.scratch_dir / f'curl-urls-{dataset.name}.txt'
        argv = [curl, *common, '--parallel', '--parallel-max',
                str(CURL_PARALLEL_MAX), '--config', str(config_path)]
        return Invocation(argv, env, files={config_path: '\n'.join(lines)
                                            + '\n'})

    @staticmethod
    def _range_script(curl, common, url, out, size, parts):
        part_size = -(-size // parts)
        q = shlex.quote
        lines = ['set -u -o pipefail', 'pids=()']
        for index in range(parts):
            first = index * part_size
            last = min(size, first + part_size) - 1
            lines.append(
                f'{q(curl)} {" ".join(map(q, common))} -r {first}-{last} '
                f'{q(url)} '
                f'| dd of={q(str(out))} bs=1M seek={first} oflag=seek_bytes '
                f'conv=notrunc status=none & pids+=($!)')
        lines += ['status=0',
                  'for pid in "${pids[@]}"; do wait "$pid" || status=1; done',
                  'exit $status']
        return '\n'.join(lines) + '\n'


def all_tools(variant_names=()):
    """Every tool, in the order they run and appear in the tables, with the
    ``ppcp@N``/``cp@N`` variants named after their base tool."""
    variants = sorted((VARIANT.match(name) for name in variant_names),
                      key=lambda match: int(match[2]))
    ppcp_variants = [
        PpcpTool(match[0], f'`aws s3 ppcp` with `max_concurrent_requests = '
                 f'{match[2]}`', s3_config=_requests_config(match[2]))
        for match in variants if match[1] == 'ppcp']
    cp_variants = [
        AwsS3Tool(match[0], 'cp', BASE_CONFIG + _requests_config(match[2]),
                  f'`aws s3 cp` with `max_concurrent_requests = {match[2]}`')
        for match in variants if match[1] == 'cp']
    return [
        PpcpTool('ppcp', '`aws s3 ppcp` (this project), default settings '
                 '(one worker process per CPU, 32 requests in flight per '
                 'CPU, at most 128, of which 16 per CPU, at most 64, may '
                 'be GETs of 1 MiB or more)'),
        PpcpTool('ppcp10', '`aws s3 ppcp --processes 10`: the 10 worker '
                 'processes the memory target is set for',
                 ['--processes', '10']),
        *ppcp_variants,
        AwsS3Tool('cp', 'cp', BASE_CONFIG,
                  '`aws s3 cp`, default settings (10 threads)'),
        AwsS3Tool('cp20', 'cp', BASE_CONFIG + _requests_config(20),
                  '`aws s3 cp` with `max_concurrent_requests = 20`'),
        *cp_variants,
        SeedTool(),
        S5cmdTool(),
        CurlTool(),
    ]


def _requests_config(requests):
    return f's3 =\n  max_concurrent_requests = {requests}\n'


TOOL_NAMES = tuple(tool.name for tool in all_tools())


def write_invocation_files(invocation):
    for path, text in invocation.files.items():
        Path(path).write_text(text)

