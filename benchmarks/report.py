"""Turns the raw per-run figures into RESULTS.md.

The JSON (``results.json``) keeps every run; the Markdown summarises each
(data set, tool) pair over its successful runs only.  A run whose download
did not verify is listed as FAILED and never enters a median.
"""
import json
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
    """{network: {dataset: {tool: summary dict}}} over the successful runs."""
    sizes = {dataset['name']: dataset for dataset in results['datasets']}
    summary = {}
    for network in results['networks']:
        per_dataset = summary.setdefault(network['name'], {})
        for dataset_name in network['datasets']:
            dataset = sizes[dataset_name]
            per_tool = per_dataset.setdefault(dataset_name, {})
            for tool_name in network['tools']:
                runs = [r for r in results['runs']
                        if r['network'] == network['name']
                        and r['dataset'] == dataset_name
                        and r['tool'] == tool_name]
                per_tool[tool_name] = _summarise_runs(runs, dataset)
    return summary


def _summarise_runs(runs, dataset):
    ok = [r for r in runs if r['ok']]
    entry = {'runs': len(runs), 'ok_runs': len(ok),
             'failed': [r for r in runs if not r['ok']]}
    if ok:
        walls = [r['wall_s'] for r in ok]
        median_wall = _median(walls)
        link_cpu = [r['link_cpu_s'] for r in ok
                    if r.get('link_cpu_s') is not None]
        server_cpu = [r['server_cpu_s'] for r in ok]
        entry.update({
            'median_wall_s': median_wall,
            'min_wall_s': min(walls),
            'max_wall_s': max(walls),
            'mib_per_s': dataset['total_bytes'] / MIB / median_wall,
            'objects_per_s': dataset['objects'] / median_wall,
            'median_cpu_s': _median([r['cpu_s'] for r in ok]),
            'median_link_cpu_s': _median(link_cpu) if link_cpu else None,
            'median_server_cpu_s': _median(server_cpu),
            'median_peak_rss_mib': _median(
                [r['peak_rss_bytes'] / MIB for r in ok]),
            'median_peak_pss_mib': _median(
                [r['peak_pss_bytes'] / MIB for r in ok]),
            'max_processes': max(r['peak_processes'] for r in ok),
        })
    return entry


def _fmt(value, digits=2):
    if value is None:
        return 'n/a'
    if value >= 100:
        return f'{value:,.0f}'
    if 0 < value < 0.1:
        return f'{value:.2g}'
    return f'{value:.{digits}f}'


def _dataset_table(tools, per_tool, with_link):
    baseline = per_tool.get('cp', {}).get('median_wall_s')
    columns = [('Tool', '---'), ('OK runs', '---:'),
               ('Median wall (s)', '---:'), ('Min–max wall (s)', '---:'),
               ('MiB/s', '---:'), ('Objects/s', '---:'), ('CPU-s', '---:'),
               ('Server CPU-s', '---:')]
    columns += [('Link CPU-s', '---:')] if with_link else []
    columns += [('Peak tree RSS (MiB)', '---:'),
                ('Peak tree PSS (MiB)', '---:'), ('Processes', '---:'),
                ('Throughput × `cp`', '---:')]
    lines = ['| ' + ' | '.join(name for name, _ in columns) + ' |',
             '|' + '|'.join(align for _, align in columns) + '|']
    for tool in tools:
        if tool['skipped'] or tool['name'] not in per_tool:
            continue
        entry = per_tool[tool['name']]
        if not entry['ok_runs']:
            cells = [tool['name'], f'0/{entry["runs"]}', 'FAILED']
        else:
            cells = [
                tool['name'], f'{entry["ok_runs"]}/{entry["runs"]}',
                _fmt(entry['median_wall_s'], 3),
                f'{_fmt(entry["min_wall_s"], 3)}–'
                f'{_fmt(entry["max_wall_s"], 3)}',
                _fmt(entry['mib_per_s'], 1), _fmt(entry['objects_per_s'], 1),
                _fmt(entry['median_cpu_s']),
                _fmt(entry['median_server_cpu_s'])]
            cells += [_fmt(entry['median_link_cpu_s'])] if with_link else []
            cells += [_fmt(entry['median_peak_rss_mib'], 0),
                      _fmt(entry['median_peak_pss_mib'], 0),
                      str(entry['max_processes']),
                      f'{baseline / entry["median_wall_s"]:.2f}×'
                      if baseline else 'n/a']
        cells += [''] * (len(columns) - len(cells))
        lines.append('| ' + ' | '.join(cells) + ' |')
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
             f'- Downloads written to: {machine.get("downloads", "the work dir")}',
             f'- Load average (1 min) at start / end: '
             f'{machine["loadavg_start"]} / {machine["loadavg_end"]} '
             '(other work on the machine shows up here)',
             f'- S3 server: {results["server"]["name"]} '
             f'{results["server"]["version"]} on {results["server"]["endpoint"]}'
             ' (same machine, competing for the same cores; HTTPS on its own '
             'TLS port)']
    for network in results['networks']:
        if network['link']:
            runs = [r for r in results['runs']
                    if r['network'] == network['name']]
            link_cpu = sum(r['link_cpu_s'] or 0 for r in runs)
            wall = sum(r['wall_s'] for r in runs)
            lines.append(
                f'- Network `{network["name"]}`: {network["link"]}; its own '
                f'CPU over the runs: {link_cpu:.1f} s in {wall:.1f} s of runs '
                f'({100 * link_cpu / wall:.0f} % of one core)')
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
- Page cache: before the measured runs of each data set on each network,
  s5cmd downloads it once, untimed, so that the server's copy is in the page
  cache for every measured run alike, the first included (this VM reclaims
  page cache by itself; caches are not dropped: that needs root and would
  hurt the server too). Each tool writes into a fresh empty directory, which
  is deleted after the run, and `sync` runs before every run so that no run
  pays for the previous run's write-back.
- Destination file system: a fresh ext4 with its journal, made for the run
  where the harness can (root, a loop device: `benchmarks/destfs.py`;
  *Machine* says where this run wrote). This VM's own root file
  system has no journal, and there ext4 skips every inode freed in the last
  minute or so when it creates a file, so each new file costs more the more
  files the runs before it deleted (2,000 creates of 16 KiB: 0.24-0.85 CPU-s
  there after as many deletes, 0.06 CPU-s on a journaled ext4).
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
- Server CPU-s: the S3 server's own user+system time during the run, read
  by PID from `/proc` (not counted in the tool's CPU-s): on two cores
  shared with the tools, it tells when the server is what limits a row.
- Throughput × `cp`: `cp`'s median wall divided by the tool's median wall.
- Medians over successful runs; min–max shows the spread.
- Networks, one after the other against the same server and data (each
  with its own warm-up): {_network_list(results)}. The WAN link
  (`benchmarks/wan.py`) is a user-space proxy in a process of its own (the
  kernel here has no `netem`): it holds every byte it reads from the server
  for the delay before passing it on (so each request's first byte, and each
  round of a TLS handshake, costs one delay more) and sends no faster than
  the rate per connection. Its CPU is read by PID around every run (Link
  CPU-s, not counted in the tool's CPU-s), and the `link` network runs the
  same data through it with neither delay nor rate, to show what it costs by
  itself. HTTPS is the server's own (a self-signed certificate made for the
  run, which every tool is told to trust: `AWS_CA_BUNDLE`, `SSL_CERT_FILE`,
  curl's `--cacert`); the link forwards its bytes without parsing them.
"""


def _network_list(results):
    return '; '.join(f'`{network["name"]}` ({network["label"]})'
                     for network in results['networks'])


def _throughput_ratio(per_dataset, dataset, tool, other):
    """How many times ``other``'s throughput ``tool`` reaches on ``dataset``
    (the inverse of their median walls); None if either was not measured."""
    walls = [per_dataset.get(dataset, {}).get(name, {}).get('median_wall_s')
             for name in (tool, other)]
    if None in walls:
        return None
    return walls[1] / walls[0]


class _Targets:
    """(target, measured, met) rows; met is None when this run did not
    measure it."""

    def __init__(self):
        self.rows = []

    def row(self, target, value, describe, meets):
        """A row for ``value``, or one saying it was not measured."""
        if value is None:
            self.rows.append((target, 'n/a', None))
        else:
            self.rows.append((target, describe(value), meets(value)))

    def ratio(self, target, ratio, least):
        self.row(target, ratio, lambda value: f'{value:.2f}×',
                 lambda value: value >= least)


def _target_rows(results, summary):
    """The goals of the project's benchmark issues, network by network."""
    targets = _Targets()
    measured = {network['name'] for network in results['networks']}
    if 'loopback' in measured:
        _loopback_targets(targets, results, summary['loopback'])
    if 'https' in measured:
        targets.ratio('`https`, `large`: ≥ 2× the throughput of `cp`',
                      _throughput_ratio(summary['https'], 'large', 'ppcp',
                                        'cp'), 2)
    if 'wan30' in measured:
        wan = summary['wan30']
        for dataset, least_cp in (('small2k', 3), ('large', 2)):
            targets.ratio(f'`wan30`, `{dataset}`: ≥ {least_cp}× the '
                          'throughput of `cp`',
                          _throughput_ratio(wan, dataset, 'ppcp', 'cp'),
                          least_cp)
            targets.ratio(f'`wan30`, `{dataset}`: ≥ 0.9× the throughput of '
                          's5cmd',
                          _throughput_ratio(wan, dataset, 'ppcp', 's5cmd'),
                          0.9)
    wan_rows = [(network['name'], dataset) for network in results['networks']
                if network['name'].startswith('wan')
                for dataset in network['datasets']]
    ratios = {row: _throughput_ratio(summary[row[0]], row[1], 'ppcp', 'cp')
              for row in wan_rows}
    ratios = {row: ratio for row, ratio in ratios.items() if ratio is not None}
    slowest = min(ratios, key=ratios.get) if ratios else None
    targets.row('every WAN row: `ppcp` no slower than `cp`', slowest,
                lambda row: f'slowest {ratios[row]:.2f}× (`{row[0]}`, '
                            f'`{row[1]}`; {len(ratios)} rows)',
                lambda row: ratios[row] >= 1)
    return targets.rows


def _loopback_targets(targets, results, per_dataset):
    def ppcp_against(dataset, other):
        return _throughput_ratio(per_dataset, dataset, 'ppcp', other)

    targets.ratio('`large`: ≥ 1.5× the throughput of `cp`',
                  ppcp_against('large', 'cp'), 1.5)
    targets.ratio('`large`: ≥ 0.9× the throughput of s5cmd',
                  ppcp_against('large', 's5cmd'), 0.9)
    for dataset in ('mixed', 'small'):
        targets.ratio(f'`{dataset}`: ≥ 2× the objects/s of `cp`',
                      ppcp_against(dataset, 'cp'), 2)
        targets.row(f'`{dataset}`: ahead of the seed design',
                    ppcp_against(dataset, 'seed'),
                    lambda value: f'{value:.2f}×', lambda value: value > 1)
    targets.row('`tiny`: wall ≤ 1.25× `cp`\'s',
                _throughput_ratio(per_dataset, 'tiny', 'cp', 'ppcp'),
                lambda value: f'{value:.2f}×', lambda value: value <= 1.25)
    # The target is set for 10 worker processes (`ppcp10`); the default
    # (one per CPU) is shown beside it.
    memory_tool = 'ppcp10' if any(
        'ppcp10' in per_tool for per_tool in per_dataset.values()) else 'ppcp'
    peaks = {name: per_tool.get(memory_tool, {}).get('median_peak_rss_mib')
             for name, per_tool in per_dataset.items()}
    peaks = {name: peak for name, peak in peaks.items() if peak is not None}
    default_peaks = [per_tool.get('ppcp', {}).get('median_peak_rss_mib')
                     for per_tool in per_dataset.values()]
    default_peaks = [peak for peak in default_peaks if peak is not None]
    worst = max(peaks, key=peaks.get) if peaks else None
    default_note = (f'; default `ppcp` at most {max(default_peaks):,.0f} MiB'
                    if memory_tool != 'ppcp' and default_peaks else '')
    targets.row(
        'peak summed tree RSS ≤ 600 MiB at 10 worker processes', worst,
        lambda name: f'{peaks[name]:,.0f} MiB (`{memory_tool}`, `{name}`, '
                     f'{per_dataset[name][memory_tool]["max_processes"]} '
                     f'processes){default_note}',
        lambda name: peaks[name] <= 600)
    many = [peaks[name] for name in ('mixed', 'small') if name in peaks]
    targets.row(
        'peak RSS does not grow with the object',
        peaks.get('large') if many else None,
        lambda large: f'`{memory_tool}`: `large` {large:,.0f} MiB, many '
                      f'small objects {max(many):,.0f} MiB',
        lambda large: large <= 1.1 * max(many))
    overhead = results.get('import_overhead') or {}
    added = [command['added_import_ms'] for command in
             overhead.get('commands', []) if not command.get('error')]
    targets.row(
        'registering the plugin adds ≤ 50 ms to an unrelated command',
        max(added) if added else None,
        lambda most: f'{most:.1f} ms of imports (the most of {len(added)} '
                     f'commands; wall times in *Cost of registering the '
                     f'plugin*)',
        lambda most: most <= 50)


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
    sizes = {dataset['name']: dataset for dataset in results['datasets']}
    for network in results['networks']:
        parts += [f'## Network `{network["name"]}`: {network["label"]}', '',
                  f'Downloads from {network["endpoint"]}'
                  + (f', through {network["link"]}.' if network['link']
                     else '.'), '']
        for name in network['datasets']:
            dataset = sizes[name]
            parts += [
                f'### `{network["name"]}`, data set `{name}`: '
                f'{dataset["description"]}',
                '',
                f'{dataset["objects"]:,} object(s), '
                f'{format_size(dataset["total_bytes"])} in total.',
                '',
                _dataset_table(results['tools'],
                               summary[network['name']][name],
                               bool(network['link'])),
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


def main():
    """Renders RESULTS.md again from results.json, as ``run.py`` left them
    (after an edit of where-the-time-goes.md, say): no figure changes."""
    results_path = Path(__file__).with_name('results.json')
    results = json.loads(results_path.read_text())
    results.setdefault('json_name', results_path.name)
    results_path.with_name('RESULTS.md').write_text(render_markdown(results))


if __name__ == '__main__':
    main()
