"""What registering the plugin costs `aws` commands that do not use it.

``[plugins] ppcp = awscli_ppdl`` makes every ``aws`` invocation import the
plugin package (``awscli.clidriver.create_clidriver`` loads plugins before it
even parses ``--version``), and every ``aws s3 ...`` invocation additionally
runs the plugin's ``building-command-table.s3`` handler, which imports the
ppcp command module.  Two cheap commands that need no server show both:

* ``aws --version``: plugin loading only.
* ``aws s3 presign s3://ppdl-bench/key``: also builds the ``s3`` command
  table (presign signs locally; the endpoint is never contacted).

Each is run ``--runs`` times with and without the plugin in the config, the
two alternating so that drift on the machine hits both alike, after two
warm-up runs each.  Medians of wall time and of CPU time are reported.

Usage: ``python3 benchmarks/import_overhead.py [--runs 15]``.  It writes
``benchmarks/import_overhead.json`` and refreshes its section in
``benchmarks/RESULTS.md`` if that file has one; ``run.py`` runs it too.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import toolchain
from tools import BASE_CONFIG, PLUGIN_CONFIG

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / 'import_overhead.json'
DEFAULT_RESULTS = BENCH_DIR / 'RESULTS.md'
SECTION_BEGIN = '<!-- import-overhead:begin -->'
SECTION_END = '<!-- import-overhead:end -->'
WARMUP_RUNS = 2

COMMANDS = (
    ('aws --version', ['--version']),
    ('aws s3 presign s3://ppdl-bench/key',
     ['s3', 'presign', 's3://ppdl-bench/key',
      '--endpoint-url', 'http://127.0.0.1:9']),
)


def _env(config_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('AWS_') and k != 'PYTHONDONTWRITEBYTECODE'}
    env.update({'AWS_CONFIG_FILE': str(config_path),
                'AWS_SHARED_CREDENTIALS_FILE': os.devnull,
                'AWS_ACCESS_KEY_ID': 'ppdl-bench',
                'AWS_SECRET_ACCESS_KEY': 'ppdl-bench-secret',
                'AWS_EC2_METADATA_DISABLED': 'true'})
    return env


def _timed_run(argv, env):
    """(wall s, CPU s, exit code, output) of one invocation."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime
           + after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stdout


def measure(aws, runs=15):
    """Runs every command with and without the plugin; returns a dict."""
    results = []
    with tempfile.TemporaryDirectory(prefix='ppdl-bench-import-') as tmp:
        configs = {'without': Path(tmp) / 'base.config',
                   'with': Path(tmp) / 'plugin.config'}
        configs['without'].write_text(BASE_CONFIG)
        configs['with'].write_text(PLUGIN_CONFIG)
        envs = {label: _env(path) for label, path in configs.items()}
        for label, args in COMMANDS:
            argv = [str(aws), *args]
            samples = {'without': [], 'with': []}
            error = None
            for index in range(WARMUP_RUNS + runs):
                for variant in ('without', 'with'):
                    wall, cpu, code, output = _timed_run(argv, envs[variant])
                    if code != 0:
                        error = (f'{variant} plugin: exit {code}: '
                                 f'{" ".join(output.split())[-300:]}')
                        break
                    if index >= WARMUP_RUNS:
                        samples[variant].append((wall, cpu))
                if error:
                    break
            entry = {'command': label, 'argv': args, 'runs': runs,
                     'error': error}
            if not error:
                for variant, values in samples.items():
                    entry[f'{variant}_wall_ms'] = 1000 * statistics.median(
                        v[0] for v in values)
                    entry[f'{variant}_cpu_ms'] = 1000 * statistics.median(
                        v[1] for v in values)
                    entry[f'{variant}_wall_samples_ms'] = [
                        round(1000 * v[0], 2) for v in values]
                entry['delta_wall_ms'] = (entry['with_wall_ms']
                                          - entry['without_wall_ms'])
                entry['delta_cpu_ms'] = (entry['with_cpu_ms']
                                         - entry['without_cpu_ms'])
            results.append(entry)
    return {'runs': runs, 'commands': results,
            'measured_at': time.strftime('%Y-%m-%d %H:%M:%S %z')}


def render_markdown(result):
    """The RESULTS.md section, between markers so it can be refreshed."""
    lines = [SECTION_BEGIN, '## Cost of registering the plugin', '',
             'Median of %d runs each (after %d warm-up runs), with vs. without '
             '`[plugins] ppcp = awscli_ppdl` in the config file, measured by '
             '`python3 benchmarks/import_overhead.py` (%s). `aws --version` '
             'only loads plugins; `aws s3 presign` also builds the `s3` '
             'command table, where the plugin adds `ppcp`.'
             % (result['runs'], WARMUP_RUNS, result['measured_at']), '',
             '| Command | Wall without (ms) | Wall with (ms) | Added wall (ms) '
             '| CPU without (ms) | CPU with (ms) | Added CPU (ms) |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for entry in result['commands']:
        if entry['error']:
            lines.append(f'| `{entry["command"]}` | n/a | n/a | '
                         f'not measured: {entry["error"]} | | | |')
            continue
        wall_pct = 100 * entry['delta_wall_ms'] / entry['without_wall_ms']
        lines.append(
            f'| `{entry["command"]}` | {entry["without_wall_ms"]:.0f} | '
            f'{entry["with_wall_ms"]:.0f} | {entry["delta_wall_ms"]:+.0f} '
            f'({wall_pct:+.1f}%) | {entry["without_cpu_ms"]:.0f} | '
            f'{entry["with_cpu_ms"]:.0f} | {entry["delta_cpu_ms"]:+.0f} |')
    lines += ['', SECTION_END]
    return '\n'.join(lines)


def refresh_results_section(results_path, section):
    """Replaces the section in an existing RESULTS.md; False if it has none."""
    try:
        text = Path(results_path).read_text()
    except OSError:
        return False
    begin, end = text.find(SECTION_BEGIN), text.find(SECTION_END)
    if begin < 0 or end < 0:
        return False
    Path(results_path).write_text(
        text[:begin] + section + text[end + len(SECTION_END):])
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=15)
    parser.add_argument('--json', default=str(DEFAULT_JSON))
    parser.add_argument('--results', default=str(DEFAULT_RESULTS),
                        help='RESULTS.md whose section is refreshed')
    args = parser.parse_args(argv)
    chain = toolchain.ensure_toolchain(need_seed=False)
    result = measure(chain.aws, runs=args.runs)
    Path(args.json).write_text(json.dumps(result, indent=2) + '\n')
    section = render_markdown(result)
    print(section)
    if refresh_results_section(args.results, section):
        print(f'refreshed the section in {args.results}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
