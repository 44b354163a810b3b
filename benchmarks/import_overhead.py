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
warm-up runs each.  Medians of wall time and of CPU time are reported, and
the median of the paired differences (each run with the plugin minus the
run without it just before).  On this shared 2-core VM those differences
spread over hundreds of milliseconds, so they cannot tell 50 ms from 0; the
target is judged on what the plugin makes Python import, measured directly:
``python -X importtime`` (``PYTHONPROFILEIMPORTTIME``) with and without the
plugin, the self times of the modules only the run with the plugin imports,
summed (median of ``IMPORT_TIME_RUNS`` pairs).  Beyond its imports, the
plugin only registers one handler and adds one command object.

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
IMPORT_TIME_RUNS = 5

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


def _imported_modules(argv, env):
    """{module: self import time in µs} of one invocation."""
    proc = subprocess.run(argv, env=dict(env, PYTHONPROFILEIMPORTTIME='1'),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    modules = {}
    for line in proc.stderr.splitlines():
        fields = line.removeprefix('import time:').split('|')
        if len(fields) == 3 and fields[0].strip().isdigit():
            modules[fields[2].strip()] = int(fields[0])
    return modules


def _added_import_ms(argv, envs):
    """Median over pairs of runs of the import time of the modules only the
    run with the plugin imports, and those modules (of the last pair)."""
    added_ms, added_modules = [], []
    for _ in range(IMPORT_TIME_RUNS):
        without = _imported_modules(argv, envs['without'])
        with_plugin = _imported_modules(argv, envs['with'])
        added_modules = sorted(set(with_plugin) - set(without))
        added_ms.append(sum(with_plugin[name] for name in added_modules)
                        / 1000)
    return statistics.median(added_ms), added_modules


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
                paired = [1000 * (with_run[0] - without_run[0])
                          for with_run, without_run in zip(
                              samples['with'], samples['without'])]
                entry['paired_wall_ms'] = statistics.median(paired)
                entry['paired_wall_range_ms'] = [min(paired), max(paired)]
                (entry['added_import_ms'],
                 entry['added_modules']) = _added_import_ms(argv, envs)
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
             'command table, where the plugin adds `ppcp`. *Paired*: the '
             'median (and range) of each run with the plugin minus the run '
             'without it just before. *Imports added*: the self import time '
             '(`python -X importtime`) of the modules only the run with the '
             'plugin imports, median of %d pairs; the target is judged on it, '
             'since the wall times of this shared VM spread too widely to '
             'resolve 50 ms.'
             % (result['runs'], WARMUP_RUNS, result['measured_at'],
                IMPORT_TIME_RUNS), '',
             '| Command | Wall without (ms) | Wall with (ms) | Added wall (ms) '
             '| Paired (ms) | CPU without (ms) | CPU with (ms) '
             '| Added CPU (ms) | Imports added (ms) |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for entry in result['commands']:
        if entry['error']:
            lines.append(f'| `{entry["command"]}` | n/a | n/a | '
                         f'not measured: {entry["error"]} | | | | | |')
            continue
        wall_pct = 100 * entry['delta_wall_ms'] / entry['without_wall_ms']
        lines.append(
            f'| `{entry["command"]}` | {entry["without_wall_ms"]:.0f} | '
            f'{entry["with_wall_ms"]:.0f} | {entry["delta_wall_ms"]:+.0f} '
            f'({wall_pct:+.1f}%) | {entry["paired_wall_ms"]:+.0f} '
            f'({entry["paired_wall_range_ms"][0]:+.0f} to '
            f'{entry["paired_wall_range_ms"][1]:+.0f}) | '
            f'{entry["without_cpu_ms"]:.0f} | '
            f'{entry["with_cpu_ms"]:.0f} | {entry["delta_cpu_ms"]:+.0f} | '
            f'{entry["added_import_ms"]:.1f} '
            f'({len(entry["added_modules"])} modules) |')
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
