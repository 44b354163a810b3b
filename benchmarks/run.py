#!/usr/bin/env python3
"""The benchmark suite: ``aws s3 ppcp`` against its peers, in one command.

    python3 benchmarks/run.py [--scale 0.01] [--server seaweedfs|moto]
        [--runs 3] [--networks loopback,https,link,wan10,wan30,wan80|all]
        [--datasets large,mixed,small,tiny,small2k]
        [--tools ppcp,ppcp10,cp,cp20,seed,s5cmd,curl (also: ppcp@N,cp@N)]
        [--output benchmarks/RESULTS.md]

It installs what it needs into venvs under ``benchmarks/.work`` (reused on
later runs), generates the data sets (cached there too), starts a local S3
server on 127.0.0.1, uploads the data, lets every tool download every data
set of every network ``--runs`` times with every byte verified, stops the
server, and writes RESULTS.md plus the raw per-run figures in results.json
next to it. The networks (``networks.py``) are the server's plain HTTP, its
own HTTPS with a self-signed certificate every tool is told to trust, and a
WAN link (``wan.py``, whose CPU is recorded per run) in front of it; each
network has its own data sets and tools, which ``--datasets`` and
``--tools`` replace.

Runs on the system python3 with the standard library only.  Module map:
toolchain (venvs), server (S3 server, WAN link), networks (what each
network is), datasets (shapes, bytes, upload), tools (how each tool is
invoked), measure (wall, CPU, memory of a process tree), verify (sha256 of
every file), report (Markdown), import_overhead (cost of registering the
plugin).
"""
import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets  # noqa: E402
import destfs  # noqa: E402
import import_overhead  # noqa: E402
import measure  # noqa: E402
import networks as netset  # noqa: E402
import report  # noqa: E402
import server as s3server  # noqa: E402
import toolchain  # noqa: E402
import tools as toolset  # noqa: E402
import verify  # noqa: E402
from toolchain import BENCH_DIR, WORK_DIR, log  # noqa: E402

LOG_TAIL_LINES = 3


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Benchmark aws s3 ppcp against its peers.')
    parser.add_argument('--scale', type=float, default=1.0,
                        help='multiplies the large object size and the '
                             'mixed/small object counts (default 1.0)')
    parser.add_argument('--server', choices=('seaweedfs', 'moto'),
                        default='seaweedfs')
    parser.add_argument('--networks', default='loopback',
                        help='what the tools download over (networks.py), '
                             'in this order; all: '
                             + ','.join(netset.NETWORK_NAMES))
    parser.add_argument('--runs', type=int, default=3,
                        help='measured runs per tool and data set')
    parser.add_argument('--datasets', default=None,
                        help="instead of each network's own")
    parser.add_argument('--tools', default=None,
                        help="instead of each network's own")
    parser.add_argument('--output', default=str(BENCH_DIR / 'RESULTS.md'))
    parser.add_argument('--json', default=None,
                        help='raw figures (default: results.json beside '
                             '--output)')
    parser.add_argument('--run-timeout', type=float, default=900,
                        help='seconds before a single run is killed')
    parser.add_argument('--import-overhead-runs', type=int, default=15,
                        help='0 skips the plugin import overhead measurement')
    args = parser.parse_args(argv)
    names = (netset.NETWORK_NAMES if args.networks == 'all'
             else [name.strip() for name in args.networks.split(',')])
    args.networks = [netset.network_by_name(name) for name in names]
    if None in args.networks or not names:
        parser.error(f'--networks: choose from all or '
                     f'{",".join(netset.NETWORK_NAMES)} (or wanN)')
    if args.datasets is not None:
        chosen = tuple(_choose(parser, '--datasets', args.datasets,
                               datasets.DATASET_NAMES))
        args.networks = [dataclasses.replace(network, dataset_names=chosen)
                         for network in args.networks]
    args.variant_names = list(dict.fromkeys(
        name.strip() for name in (args.tools or '').split(',')
        if toolset.VARIANT.match(name.strip())))
    if args.tools is not None:
        chosen = tuple(_choose(parser, '--tools', args.tools, [
            tool.name for tool in toolset.all_tools(args.variant_names)]))
        args.networks = [dataclasses.replace(network, tool_names=chosen)
                         for network in args.networks]
    if args.scale <= 0:
        parser.error('--scale must be positive')
    if args.runs < 1:
        parser.error('--runs must be at least 1')
    if args.server != 'seaweedfs' and any(
            network.scheme == 'https' for network in args.networks):
        parser.error('the https network needs --server seaweedfs')
    if args.json is None:
        args.json = str(Path(args.output).with_name('results.json'))
    return args


def _choose(parser, option, text, known):
    names = [name.strip() for name in text.split(',') if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f'{option}: unknown {unknown}; choose from '
                     f'{",".join(known)}')
    return [name for name in known if name in names]  # canonical order


def _read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown'


def _os_name():
    try:
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    return line.split('=', 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def machine_facts():
    mem_kib = int(_read_first('/proc/meminfo', 'MemTotal').split()[0])
    return {
        'cores': os.cpu_count(),
        'cpu_model': _read_first('/proc/cpuinfo', 'model name'),
        'memory_gib': mem_kib / 1024 / 1024,
        'os': _os_name(),
        'kernel': platform.release(),
        'python': platform.python_version(),
        'loadavg_start': f'{os.getloadavg()[0]:.2f}',
    }


def _raise_on_signal(signum, _frame):
    # Turns SIGTERM/SIGHUP into an exception so that every `finally` runs
    # and the server is stopped.
    raise SystemExit(128 + signum)


def _log_tail(path):
    try:
        lines = Path(path).read_text(errors='replace').splitlines()
    except OSError:
        return ''
    tail = [' '.join(line.split()) for line in lines[-LOG_TAIL_LINES:]]
    return ' | '.join(line for line in tail if line)[-400:]


def run_once(ctx, tool, dataset, manifest, run_index, exclude_pids, timeout,
             logs_dir, downloads_root):
    """One measured, verified download into a directory of its own under
    ``downloads_root``; returns the raw record."""
    dest = downloads_root / tool.name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    invocation = tool.invocation(ctx, dataset, dest)
    toolset.write_invocation_files(invocation)
    log_path = logs_dir / f'{dataset.name}-{tool.name}-run{run_index}.log'
    os.sync()  # no run pays for the write-back of the one before it
    result = measure.run_measured(invocation.argv, invocation.env, log_path,
                                  exclude_pids=exclude_pids, timeout=timeout)
    checked = verify.verify_download(dest, dataset, manifest)
    shutil.rmtree(dest, ignore_errors=True)

    problems = []
    if result.timed_out:
        problems.append(f'killed after {timeout:.0f} s')
    elif result.returncode != 0:
        problems.append(f'exit status {result.returncode}')
    if not checked.ok:
        problems.append(checked.summary())
    failure = None
    if problems:
        tail = _log_tail(log_path)
        failure = '; '.join(problems) + (f' (log: {tail})' if tail else '')
    return {
        'dataset': dataset.name, 'tool': tool.name, 'run': run_index,
        'ok': failure is None, 'failure': failure,
        'wall_s': result.wall_s, 'cpu_s': result.cpu_s,
        'cpu_user_s': result.cpu_user_s, 'cpu_sys_s': result.cpu_sys_s,
        'peak_rss_bytes': result.peak_rss_bytes,
        'peak_pss_bytes': result.peak_pss_bytes,
        'peak_processes': result.peak_processes,
        'memory_samples': result.samples,
        'returncode': result.returncode, 'timed_out': result.timed_out,
        'stragglers': result.stragglers,
        'files_verified': checked.files_checked,
        'bytes_verified': checked.bytes_checked,
        'argv': invocation.argv,
    }


def _progress(record, dataset):
    if not record['ok']:
        return f'FAILED: {record["failure"]}'
    wall = record['wall_s']
    return (f'{wall:8.3f} s {dataset.total_bytes / datasets.MIB / wall:9.1f} '
            f'MiB/s {len(dataset.objects) / wall:9.1f} obj/s  CPU '
            f'{record["cpu_s"]:7.2f} s  RSS {record["peak_rss_bytes"] / 2**20:6.0f}'
            f' MiB  PSS {record["peak_pss_bytes"] / 2**20:6.0f} MiB'
            + f'  server CPU {record["server_cpu_s"]:.2f} s'
            + (f'  link CPU {record["link_cpu_s"]:.2f} s'
               if record.get('link_cpu_s') is not None else ''))


def _start_server(args, chain, versions, scratch):
    if args.server == 'moto':
        return s3server.moto(chain.moto_python, versions.get('moto', ''))
    tls = (s3server.self_signed_certificate(scratch)
           if any(network.scheme == 'https' for network in args.networks)
           else None)
    return s3server.seaweedfs(chain.weed, versions.get('weed', ''), tls=tls)


@contextlib.contextmanager
def _network_endpoint(network, server):
    """Where the tools download from on ``network``: the server's HTTP or
    HTTPS port, or the WAN link in front of it (started and stopped here),
    and that link (None without one)."""
    port = server.https_port if network.scheme == 'https' else server.port
    if not network.through_link:
        yield f'{network.scheme}://{s3server.HOST}:{port}', None
        return
    with s3server.WanLink(port, network.delay_ms, network.rate_mbit,
                          network.scheme) as link:
        log(f'{network.name}: {network.describe_link()}, on '
            f'{link.endpoint_url} (pid {link.pid})')
        yield link.endpoint_url, link


def _measure_network(network, ctx, server, link, tools, prepared, args,
                     logs_dir, downloads_root):
    """Every run of every tool on every data set of ``network``: a warm-up
    download of the tiny object each, then, for each data set, an untimed
    read and the runs, alternating tools.
    ``prepared``: each data set's ``Dataset`` and manifest, by name."""
    exclude = {server.pid} | ({link.pid} if link else set())
    log(f'{network.name}: warm-up, every tool downloads the tiny object '
        'once, untimed')
    for tool in tools:
        _run_untimed(ctx, tool, *prepared['tiny'], exclude, args, logs_dir,
                     downloads_root)
    runs = []
    for dataset_name in network.dataset_names:
        dataset, manifest = prepared[dataset_name]
        # By the leanest peer: whatever of the server's copy was evicted
        # from the page cache since the upload (by the other data sets, or
        # by this VM's memory reclaim) is read back now, not in the first
        # measured run of whichever tool comes first.
        reader = next((tool for tool in tools if tool.name == 's5cmd'),
                      tools[0])
        log(f'{dataset.name}: read once by {reader.name}, untimed')
        _run_untimed(ctx, reader, dataset, manifest, exclude, args, logs_dir,
                     downloads_root)
        for run_index in range(1, args.runs + 1):
            for tool in tools:
                link_cpu = link.cpu_s() if link else 0.0
                server_cpu = server.cpu_s()
                record = run_once(ctx, tool, dataset, manifest, run_index,
                                  exclude, args.run_timeout, logs_dir,
                                  downloads_root)
                record['network'] = network.name
                record['server_cpu_s'] = server.cpu_s() - server_cpu
                record['link_cpu_s'] = (link.cpu_s() - link_cpu
                                        if link else None)
                runs.append(record)
                log(f'{network.name:8} {dataset.name:7} run '
                    f'{run_index}/{args.runs} {tool.name:7} '
                    f'{_progress(record, dataset)}')
                if server.process.poll() is not None:
                    raise RuntimeError(f'{server.name} died during the run:'
                                       f'\n{server.log_tail()}')
    return runs


def _run_untimed(ctx, tool, dataset, manifest, exclude, args, logs_dir,
                 downloads_root):
    """A download whose figures are not kept; a failure is only logged."""
    record = run_once(ctx, tool, dataset, manifest, 0, exclude,
                      args.run_timeout, logs_dir, downloads_root)
    if not record['ok']:
        log(f'  untimed {tool.name}: {record["failure"]}')


def benchmark(args):
    started = time.monotonic()
    machine = machine_facts()
    tool_names = {name for network in args.networks
                  for name in network.tool_names or toolset.TOOL_NAMES}
    chain = toolchain.ensure_toolchain(
        need_seed='seed' in tool_names, need_moto=args.server == 'moto')
    versions = toolchain.tool_versions(chain)
    dataset_names = list(dict.fromkeys(
        ['tiny'] + [name for network in args.networks
                    for name in network.dataset_names]))
    to_upload = [datasets.build_dataset(name, args.scale)
                 for name in dataset_names]
    data_root = WORK_DIR / 'data'
    local = {}
    for dataset in to_upload:
        log(f'preparing data set {dataset.name}: {dataset.description}')
        local[dataset.name] = datasets.materialize(dataset, data_root)

    scratch = WORK_DIR / 'scratch'
    logs_dir = WORK_DIR / 'logs'
    for directory in (scratch, logs_dir):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)

    all_tools = [tool for tool in toolset.all_tools(args.variant_names)
                 if tool.name in tool_names]
    runs = []
    network_records = []
    with contextlib.ExitStack() as stack:
        destination = stack.enter_context(destfs.downloads_filesystem(
            WORK_DIR, max(dataset.total_bytes for dataset in to_upload), log))
        machine['downloads'] = destination.description
        server = stack.enter_context(_start_server(args, chain, versions,
                                                   scratch))
        log(f'starting {server.name}')
        server.start()
        log(f'{server.name} answers on {server.endpoint_url} (pid {server.pid})')
        ca_bundle = scratch / 'cert.pem' if server.https_port else None
        upload_ctx = toolset.BenchContext(
            chain, server.endpoint_url, datasets.BUCKET, scratch, server.name)
        upload_env = toolset.client_env(upload_ctx, toolset.BASE_CONFIG,
                                        'upload')
        datasets.create_bucket(chain.s5cmd, server.endpoint_url, upload_env)
        upload_seconds = {}
        for dataset in to_upload:
            log(f'uploading {dataset.name}')
            upload_seconds[dataset.name] = datasets.upload(
                dataset, local[dataset.name][0], chain.s5cmd,
                server.endpoint_url, upload_env)

        skipped = {tool.name: tool.unavailable_reason(upload_ctx)
                   for tool in all_tools}
        for name, reason in skipped.items():
            if reason:
                log(f'skipping {name}: {reason}')
        prepared = {dataset.name: (dataset, local[dataset.name][1])
                    for dataset in to_upload}
        for network in args.networks:
            names = network.tool_names or toolset.TOOL_NAMES
            tools = [tool for tool in all_tools
                     if tool.name in names and not skipped[tool.name]]
            with _network_endpoint(network, server) as (endpoint_url, link):
                ctx = toolset.BenchContext(
                    chain, endpoint_url, datasets.BUCKET, scratch,
                    server.name,
                    ca_bundle=ca_bundle if network.scheme == 'https'
                    else None)
                runs += _measure_network(network, ctx, server, link, tools,
                                         prepared, args, logs_dir,
                                         destination.root)
            network_records.append({
                'name': network.name, 'label': network.label,
                'endpoint': endpoint_url, 'link': network.describe_link(),
                'datasets': list(network.dataset_names),
                'tools': [tool.name for tool in tools]})
        server_facts = {'name': server.name, 'version': server.version,
                        'endpoint': server.endpoint_url}
        log(f'stopping {server.name}')

    overhead = None
    if args.import_overhead_runs > 0:
        log('measuring the cost of registering the plugin')
        overhead = import_overhead.measure(chain.aws,
                                           runs=args.import_overhead_runs)

    machine['loadavg_end'] = f'{os.getloadavg()[0]:.2f}'
    measured = {record['dataset'] for record in runs}
    return {
        'generated': time.strftime('%Y-%m-%d %H:%M:%S %z'),
        'command': 'python3 benchmarks/run.py'
                   + ''.join(' ' + shlex.quote(a) for a in sys.argv[1:]),
        'scale': args.scale, 'runs_per_tool': args.runs,
        'machine': machine, 'versions': versions, 'server': server_facts,
        'networks': network_records,
        'datasets': [{'name': dataset.name,
                      'description': dataset.description,
                      'objects': len(dataset.objects),
                      'total_bytes': dataset.total_bytes,
                      'upload_s': upload_seconds[dataset.name]}
                     for dataset in to_upload if dataset.name in measured],
        'tools': [{'name': tool.name, 'description': tool.description,
                   'skipped': skipped[tool.name]} for tool in all_tools],
        'runs': runs,
        'import_overhead': overhead,
        'harness_elapsed_s': time.monotonic() - started,
    }


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGHUP, _raise_on_signal)
    if not measure.become_subreaper():
        log('warning: could not become a child subreaper; CPU of orphaned '
            'processes may be missed')
    results = benchmark(args)
    results['json_name'] = Path(args.json).name
    Path(args.json).write_text(json.dumps(results, indent=1) + '\n')
    Path(args.output).write_text(report.render_markdown(results))
    log(f'wrote {args.output} and {args.json} '
        f'({results["harness_elapsed_s"] / 60:.1f} min)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
