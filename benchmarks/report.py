"""Turns the raw per-run figures into RESULTS.md.

The JSON (``results.json``) keeps every run; the Markdown summarises each
(data set, tool) pair over its successful runs only.  A run whose download
did not verify is listed as FAILED and never enters a median.
"""
import statistics
from pathlib import Path

import import_overhead
from datasets import MIB, format_size

# Written by hand from profiles (perf, yappi) of the runs: it explains the
# figures, so it lives in its own committed file and is pasted in verbatim.
WHERE_THE_TIME_GOES = Path(__file__).with_name('where-the-time-goes.md')


def _median(values):
    return statistics.median(values) if values else None


def summarise(results):
    """{dataset: {tool: summary dict}} over the successful runs."""
    summary = {}
    for dataset in results['datasets']:
        per_tool = {}
        for tool in results['tools']:
            runs = [r for r in results['runs']
                    if r['dataset'] == dataset['name']
                    and r['tool'] == tool['name']]
            ok = [r for r in runs if r['ok']]
            entry = {'runs': len(runs), 'ok_runs': len(ok),
                     'failed': [r for r in runs if not r['ok']]}
            if ok:
                walls = [r['wall_s'] for r in ok]
                median_wall = _median(walls)
                entry.update({
                    'median_wall_s': median_wall,
                    'min_wall_s': min(walls),
                    'max_wall_s': max(walls),
                    'mib_per_s': dataset['total_bytes'] / MIB / median_wall,
                    'objects_per_s': dataset['objects'] / median_wall,
                    'median_cpu_s': _median([r['cpu_s'] for r in ok]),
                    'median_peak_rss_mib': _median(
                        [r['peak_rss_bytes'] / MIB for r in ok]),
                    'median_peak_pss_mib': _median(
                        [r['peak_pss_bytes'] / MIB for r in ok]),
                    'max_processes': max(r['peak_processes'] for r in ok),
                })
            per_tool[tool['name']] = entry
        summary[dataset['name']] = per_tool
    return summary


def _fmt(value, digits=2):
    if value is None:
        return 'n/a'
    if value >= 100:
        return f'{value:,.0f}'
    if 0 < value < 0.1:
        return f'{value:.2g}'
    return f'{value:.{digits}f}'


def _dataset_table(dataset, tools, per_tool):
    baseline = per_tool.get('cp', {}).get('median_wall_s')
    lines = [
        '| Tool | OK runs | Median wall (s) | Min–max wall (s) | MiB/s '
        '| Objects/s | CPU-s | Peak tree RSS (MiB) | Peak tree PSS (MiB) '
        '| Processes | Throughput × `cp` |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for tool in tools:
        if tool['skipped']:
            continue
        entry = per_tool[tool['name']]
        if not entry['ok_runs']:
            lines.append(f'| {tool["name"]} | 0/{entry["runs"]} | FAILED | '
                         '| | | | | | | |')
            continue
        ratio = (f'{baseline / entry["median_wall_s"]:.2f}×'
                 if baseline else 'n/a')
        lines.append(
            f'| {tool["name"]} | {entry["ok_runs"]}/{entry["runs"]} '
            f'| {_fmt(entry["median_wall_s"], 3)} '
            f'| {_fmt(entry["min_wall_s"], 3)}–{_fmt(entry["max_wall_s"], 3)} '
            f'| {_fmt(entry["mib_per_s"], 1)} '
            f'| {_fmt(entry["objects_per_s"], 1)} '
            f'| {_fmt(entry["median_cpu_s"])} '
            f'| {_fmt(entry["median_peak_rss_mib"], 0)} '
            f'| {_fmt(entry["median_peak_pss_mib"], 0)} '
            f'| {entry["max_processes"]} | {ratio} |')
    failures = []
    for tool in tools:
        for run in per_tool.get(tool['name'], {}).get('failed', ()):
            failures.append(f'- FAILED: {tool["name"]} run {run["run"]}: '
                            f'{run["failure"]}')
    if failures:
        lines += [''] + failures
    return '\n'.join(lines)


def _machine_section(results):
    machine = results['machine']
    lines = ['## Machine', '',
             f'- CPU: {machine["cpu_model"]}, {machine["cores"]} cores',
             f'- Memory: {machine["memory_gib"]:.1f} GiB',
             f'- OS: {machine["os"]}, kernel {machine["kernel"]}',
             f'- Python (harness and venvs): {machine["python"]}',
             f'- Load average (1 min) at start / end: '
             f'{machine["loadavg_start"]} / {machine["loadavg_end"]} '
             '(other work on the machine shows up here)',
             f'- S3 server: {results["server"]["name"]} '
             f'{results["server"]["version"]} on {results["server"]["endpoint"]}'
             ' (same machine, competing for the same cores)']
    link = results['server'].get('link')
    if link:
        link_cpu = sum(r.get('link_cpu_s') or 0 for r in results['runs'])
        wall = sum(r['wall_s'] for r in results['runs'])
        lines.append(
            f'- WAN link (`benchmarks/wan.py`, in front of the server): '
            f'{link["delay_ms"]:g} ms added to every byte received, '
            f'{link["rate_mbit"] or "no"} Mbit/s limit per connection; its '
            f'own CPU over all runs: {link_cpu:.1f} s in {wall:.1f} s of '
            f'runs ({100 * link_cpu / wall:.0f} % of one core)')
    lines += ['', 'Tool versions:', '']
    for name, version in results['versions'].items():
        lines.append(f'- {name}: `{version}`')
    return '\n'.join(lines)


def _method_section(results):
    return f"""## Method

- Command: `{results['command']}` (harness wall time
  {results['harness_elapsed_s'] / 60:.1f} min, including set-up and upload).
- Each data set is uploaded once to a freshly started server, then every tool
  downloads it {results['runs_per_tool']} time(s), alternating: run 1 of every
  tool, then run 2 of every tool, and so on. Before the measured runs every
  tool downloads the tiny object once, untimed, so that executables and
  Python bytecode caches are warm for all.
- Page cache: the server's data was just written, so it is in the page cache
  for every tool alike (caches are not dropped: that needs root and would
  hurt the server too). Each tool writes into a fresh empty directory, which
  is deleted after the run, and `sync` runs before every run so that no run
  pays for the previous run's write-back.
- Verification: after every run each file's size and sha256 are checked
  against the seeded data (and no extra file may appear); a run that does not
  verify is FAILED and is left out of every figure.
- Wall: spawn to exit of the whole process tree. CPU-s: user+system time of
  the tool and all its descendants (`getrusage(RUSAGE_CHILDREN)` deltas; the
  harness is a child subreaper, so orphans are reaped and counted too).
  Peak tree RSS: the largest sum of the resident sets of all live processes
  in the tool's tree, sampled every 100 ms from `/proc`; it counts pages
  shared between forked processes once per process. Peak tree PSS: the same
  with proportional set size, which splits shared pages and so is the tree's
  real footprint (sampled every 500 ms: reading it is costly enough to slow
  down the tool being measured). Processes: most processes seen in the tree at once.
- Throughput × `cp`: `cp`'s median wall divided by the tool's median wall.
- Medians over successful runs; min–max shows the spread.
"""


def _throughput_ratio(summary, dataset, tool, other):
    """How many times ``other``'s throughput ``tool`` reaches on ``dataset``
    (the inverse of their median walls); None if either was not measured."""
    walls = [summary.get(dataset, {}).get(name, {}).get('median_wall_s')
             for name in (tool, other)]
    if None in walls:
        return None
    return walls[1] / walls[0]


def _target_rows(results, summary):
    """(target, measured, met) for each goal of the project's benchmark
    issue; met is None when this run did not measure it."""
    rows = []

    def row(target, value, describe, meets):
        """A row for ``value``, or one saying it was not measured."""
        if value is None:
            rows.append((target, 'n/a', None))
        else:
            rows.append((target, describe(value), meets(value)))

    def ratio_row(target, ratio, meets):
        row(target, ratio, lambda value: f'{value:.2f}×', meets)

    def ppcp_against(dataset, other):
        return _throughput_ratio(summary, dataset, 'ppcp', other)

    ratio_row('`large`: ≥ 1.5× the throughput of `cp`',
              ppcp_against('large', 'cp'), lambda ratio: ratio >= 1.5)
    ratio_row('`large`: ≥ 0.9× the throughput of s5cmd',
              ppcp_against('large', 's5cmd'), lambda ratio: ratio >= 0.9)
    for dataset in ('mixed', 'small'):
        ratio_row(f'`{dataset}`: ≥ 2× the objects/s of `cp`',
                  ppcp_against(dataset, 'cp'), lambda ratio: ratio >= 2)
        ratio_row(f'`{dataset}`: ahead of the seed design',
                  ppcp_against(dataset, 'seed'), lambda ratio: ratio > 1)
    ratio_row('`tiny`: wall ≤ 1.25× `cp`\'s',
              _throughput_ratio(summary, 'tiny', 'cp', 'ppcp'),
              lambda slowdown: slowdown <= 1.25)
    # The target is set for 10 worker processes (`ppcp10`); the default
    # (one per CPU) is shown beside it.
    memory_tool = 'ppcp10' if any(
        'ppcp10' in summary[dataset['name']]
        for dataset in results['datasets']) else 'ppcp'
    peaks = {dataset['name']: summary[dataset['name']].get(memory_tool, {})
             .get('median_peak_rss_mib') for dataset in results['datasets']}
    peaks = {name: peak for name, peak in peaks.items() if peak is not None}
    default_peaks = [summary[dataset['name']].get('ppcp', {}).get(
        'median_peak_rss_mib') for dataset in results['datasets']]
    default_peaks = [peak for peak in default_peaks if peak is not None]
    worst = max(peaks, key=peaks.get) if peaks else None
    default_note = (f'; default `ppcp` at most {max(default_peaks):,.0f} MiB'
                    if memory_tool != 'ppcp' and default_peaks else '')
    row('peak summed tree RSS ≤ 600 MiB at 10 worker processes', worst,
        lambda name: f'{peaks[name]:,.0f} MiB (`{memory_tool}`, `{name}`, '
                     f'{summary[name][memory_tool]["max_processes"]} '
                     f'processes){default_note}',
        lambda name: peaks[name] <= 600)
    many = [peaks[name] for name in ('mixed', 'small') if name in peaks]
    row('peak RSS does not grow with the object',
        peaks.get('large') if many else None,
        lambda large: f'`{memory_tool}`: `large` {large:,.0f} MiB, many '
                      f'small objects {max(many):,.0f} MiB',
        lambda large: large <= 1.1 * max(many))
    overhead = results.get('import_overhead') or {}
    added = [command['delta_wall_ms'] for command in
             overhead.get('commands', []) if not command.get('error')]
    row('registering the plugin adds ≤ 50 ms to an unrelated command',
        max(added) if added else None,
        lambda most: f'{most:+.0f} ms (the most of {len(added)} commands)',
        lambda most: most <= 50)
    return rows


def _targets_section(results, summary):
    lines = ['## Targets', '',
             'The goals of the project\'s benchmark issue, judged on this '
             'run (ratios of medians).']
    if results['scale'] != 1.0:
        lines.append('They are set for the full-size data sets: at this '
                     'scale they are only indicative.')
    lines += ['', '| Target | Measured | |', '|---|---|---|']
    for target, measured, met in _target_rows(results, summary):
        verdict = {True: 'met', False: '**not met**', None: 'not measured'}
        lines.append(f'| {target} | {measured} | {verdict[met]} |')
    return '\n'.join(lines)


def _tools_section(results):
    lines = ['## Tools', '']
    for tool in results['tools']:
        line = f'- `{tool["name"]}`: {tool["description"]}'
        if tool['skipped']:
            line += f'. **Not measured:** {tool["skipped"]}'
        lines.append(line)
    return '\n'.join(lines)


def render_markdown(results):
    summary = summarise(results)
    parts = [
        '# Benchmark results',
        '',
        'Generated by `benchmarks/run.py` on '
        f'{results["generated"]}; raw per-run figures are in '
        f'`{results["json_name"]}` beside this file. Scale '
        f'{results["scale"]}: '
        + ('full size.' if results['scale'] == 1.0 else
           'object sizes (large) and counts (mixed, small) are scaled down, '
           'so these are not the full-size figures.'),
        '',
        _targets_section(results, summary),
        '',
        _machine_section(results),
        '',
        _tools_section(results),
        '',
        _method_section(results),
    ]
    for dataset in results['datasets']:
        parts += [
            f'## Data set `{dataset["name"]}`: {dataset["description"]}',
            '',
            f'{dataset["objects"]:,} object(s), '
            f'{format_size(dataset["total_bytes"])} in total.',
            '',
            _dataset_table(dataset, results['tools'],
                           summary[dataset['name']]),
            '',
        ]
    parts.append(WHERE_THE_TIME_GOES.read_text())
    overhead = results.get('import_overhead')
    if overhead:
        parts += [import_overhead.render_markdown(overhead), '']
    else:
        parts += [import_overhead.SECTION_BEGIN,
                  '## Cost of registering the plugin', '',
                  'Not measured in this run; run '
                  '`python3 benchmarks/import_overhead.py`.', '',
                  import_overhead.SECTION_END, '']
    return '\n'.join(parts)
