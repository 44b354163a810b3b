"""The benchmark's data sets: their shape, their bytes, and their upload.

Five shapes cover what a download tool is sensitive to:

* ``large``: one 1 GiB object: raw bytes per second through ranged GETs.
* ``mixed``: 1,000 objects of 256 KiB: both per-request cost and bytes.
* ``small``: 5,000 objects of 16 KiB: per-object overhead dominates.
* ``tiny``: one 1 KiB object: start-up cost of the tool itself.
* ``small2k``: 2,000 objects of 16 KiB: ``small`` for the WAN networks,
  where each request waits for the link.

The bytes are pseudo-random but deterministic (``random.Random`` seeded with
the data set, object and chunk), so every object's sha256 is known without
keeping a reference copy anywhere else, and incompressible so no layer can
cheat.  A local copy of each data set is generated once under
``benchmarks/.work/data`` (with a manifest of sizes and sha256) and reused by
later runs; it is uploaded to each freshly started server with s5cmd.
"""
import hashlib
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

BUCKET = 'ppdl-bench'
# Bump whenever the byte generator changes so that cached copies are redone.
GENERATOR_VERSION = 1
GENERATOR_CHUNK = 8 * MIB


@dataclass(frozen=True)
class ObjectSpec:
    """One object; ``name`` is relative to the data set's prefix and is also
    the file name every tool must produce in its download directory."""

    name: str
    size: int


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    objects: tuple
    # Single-object sets are downloaded by key, not by prefix --recursive.
    single_object: bool

    @property
    def prefix(self):
        return f'{self.name}/'

    def key(self, obj):
        return self.prefix + obj.name

    @property
    def total_bytes(self):
        return sum(obj.size for obj in self.objects)

    @property
    def cache_dir_name(self):
        sizes = sorted({obj.size for obj in self.objects})
        return f'{self.name}-{len(self.objects)}x{"-".join(map(str, sizes))}'


@dataclass(frozen=True)
class _Shape:
    count: int
    size: int
    scales: str  # 'size', 'count' or 'none': what --scale multiplies
    single_object: bool
    description: str


SHAPES = {
    'large': _Shape(1, GIB, 'size', True, 'one 1 GiB object'),
    'mixed': _Shape(1000, 256 * KIB, 'count', False,
                    '1,000 objects of 256 KiB'),
    'small': _Shape(5000, 16 * KIB, 'count', False,
                    '5,000 objects of 16 KiB'),
    'tiny': _Shape(1, KIB, 'none', True, 'one 1 KiB object'),
    'small2k': _Shape(2000, 16 * KIB, 'count', False,
                      '2,000 objects of 16 KiB'),
}
DATASET_NAMES = tuple(SHAPES)


def format_size(size):
    for unit, factor in (('GiB', GIB), ('MiB', MIB), ('KiB', KIB)):
        if size >= factor:
            value = size / factor
            text = f'{value:.0f}' if value == int(value) else f'{value:.1f}'
            return f'{text} {unit}'
    return f'{size} B'


def build_dataset(name, scale=1.0):
    """The data set ``name`` with sizes (large) or counts (mixed, small)
    multiplied by ``scale``; at least one object, objects at least 1 KiB."""
    shape = SHAPES[name]
    count, size = shape.count, shape.size
    if shape.scales == 'size':
        size = max(KIB, round(size * scale / KIB) * KIB)
    elif shape.scales == 'count':
        count = max(1, round(count * scale))
    if count == 1:
        objects = (ObjectSpec(f'{name}.bin', size),)
    else:
        objects = tuple(ObjectSpec(f'obj-{i:05d}.bin', size)
                        for i in range(count))
    description = shape.description
    if scale != 1.0 and shape.scales != 'none':
        description = (f'{count:,} object{"s" if count > 1 else ""} of '
                       f'{format_size(size)} (scaled from {description})')
    return Dataset(name, description, objects, shape.single_object)


def object_bytes_chunks(dataset_name, obj):
    """Yields the deterministic content of ``obj`` in chunks."""
    offset = 0
    index = 0
    while offset < obj.size:
        length = min(GENERATOR_CHUNK, obj.size - offset)
        seed = f'ppdl-bench/v{GENERATOR_VERSION}/{dataset_name}/{obj.name}/{index}'
        yield random.Random(seed).randbytes(length)
        offset += length
        index += 1


def _manifest_matches(manifest, dataset, local_dir):
    if manifest.get('generator_version') != GENERATOR_VERSION:
        return False
    wanted = [[obj.name, obj.size] for obj in dataset.objects]
    if [[o['name'], o['size']] for o in manifest['objects']] != wanted:
        return False
    for obj in dataset.objects:
        try:
            if (local_dir / obj.name).stat().st_size != obj.size:
                return False
        except OSError:
            return False
    return True


def materialize(dataset, data_root):
    """Makes sure a local copy of ``dataset`` exists; returns
    (local dir, {object name: sha256 hex})."""
    local_dir = Path(data_root) / dataset.cache_dir_name
    manifest_path = local_dir / 'manifest.json'
    try:
        manifest = json.loads(manifest_path.read_text())
        if _manifest_matches(manifest, dataset, local_dir):
            return local_dir, {o['name']: o['sha256']
                               for o in manifest['objects']}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    local_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)
    entries = []
    for obj in dataset.objects:
        digest = hashlib.sha256()
        with open(local_dir / obj.name, 'wb') as out:
            for chunk in object_bytes_chunks(dataset.name, obj):
                digest.update(chunk)
                out.write(chunk)
        entries.append({'name': obj.name, 'size': obj.size,
                        'sha256': digest.hexdigest()})
    # Written last and atomically: a half-generated copy has no manifest.
    tmp = manifest_path.with_suffix('.tmp')
    tmp.write_text(json.dumps({'generator_version': GENERATOR_VERSION,
                               'objects': entries}, indent=0))
    os.replace(tmp, manifest_path)
    return local_dir, {e['name']: e['sha256'] for e in entries}


def _s5cmd(s5cmd, endpoint_url, env, *args, check=True):
    return subprocess.run(
        [str(s5cmd), '--endpoint-url', endpoint_url, *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        check=check)


def create_bucket(s5cmd, endpoint_url, env, timeout=60):
    """Creates the bucket, retrying while a fresh server is still warming up
    (SeaweedFS answers HTTP before its volume server has registered)."""
    deadline = time.monotonic() + timeout
    while True:
        proc = _s5cmd(s5cmd, endpoint_url, env, 'mb', f's3://{BUCKET}',
                      check=False)
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f'could not create bucket: {proc.stdout}')
        time.sleep(1)


def upload(dataset, local_dir, s5cmd, endpoint_url, env):
    """Uploads the local copy under the data set's prefix and checks that the
    listing has every object.  Returns the upload time in seconds."""
    started = time.monotonic()
    for attempt in range(3):
        proc = _s5cmd(s5cmd, endpoint_url, env, 'cp', f'{local_dir}/*.bin',
                      f's3://{BUCKET}/{dataset.prefix}', check=False)
        if proc.returncode == 0:
            break
        time.sleep(2)
    else:
        raise RuntimeError(f'uploading {dataset.name} failed:\n'
                           f'{proc.stdout[-3000:]}')
    listing = _s5cmd(s5cmd, endpoint_url, env, 'ls',
                     f's3://{BUCKET}/{dataset.prefix}*').stdout
    listed = sum(1 for line in listing.splitlines() if line.strip())
    if listed != len(dataset.objects):
        raise RuntimeError(f'{dataset.name}: listed {listed} objects after '
                           f'upload, expected {len(dataset.objects)}')
    return time.monotonic() - started
