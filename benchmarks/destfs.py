"""Where the tools write their downloads: a journaled ext4 made for the run.

This VM's root file system is ext4 *without* a journal.  There the kernel
will not hand out an inode freed in the last minute or so (ext4's
``recently_deleted``, checked only without a journal): each new file scans
past the inodes the previous runs deleted, so the cost of creating a file
grows with how many files were deleted just before, and the order of the
tools decides who pays most.  Measured here, 2,000 creates of 16 KiB files
in a row took 0.24-0.85 CPU-s on the root file system, after as many
deletes, and 0.06 CPU-s on a journaled ext4.  A user's disk has a journal
(``mkfs.ext4``'s default), and a user rarely deletes thousands of files
just before a download, so the harness writes every download into a fresh
ext4 with default options, on a loop device over a sparse file in
``benchmarks/.work``.  The loop device uses direct I/O on its backing file,
so each byte is cached once, as on a real disk.

That needs root and a loop device; without them the downloads go to
``benchmarks/.work/downloads`` on whatever holds it, and the report says so.
"""
import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIB = 1024 ** 3


@dataclass(frozen=True)
class Destination:
    root: Path          # each tool's download directory goes under it
    description: str    # for the report's machine section


def _run(*argv):
    """A set-up command's standard output; CalledProcessError (with its
    stderr) if it fails."""
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True).stdout.strip()


def _fallback(work_dir, why):
    root = work_dir / 'downloads'
    root.mkdir(parents=True, exist_ok=True)
    return Destination(root, f'{root}, on the machine\'s own file system '
                             f'(a journaled ext4 could not be made: {why})')


@contextlib.contextmanager
def downloads_filesystem(work_dir, largest_download_bytes, log):
    """Yields a ``Destination``; unmounts and removes what it made.

    The file system holds one tool's download at a time (each is deleted
    after its run), twice the largest plus 1 GiB, sparse until written."""
    image = work_dir / 'downloads.ext4'
    mount_point = work_dir / 'downloads-fs'
    size = 2 * largest_download_bytes + GIB
    loop_device = None
    mounted = False
    try:
        if os.geteuid() != 0:
            yield _fallback(work_dir, 'not root')
            return
        try:
            image.unlink(missing_ok=True)
            with open(image, 'wb') as sparse:
                sparse.truncate(size)
            _run('mkfs.ext4', '-q', '-F', str(image))
            loop_device = _run('losetup', '--find', '--show',
                               '--direct-io=on', str(image))
            mount_point.mkdir(parents=True, exist_ok=True)
            _run('mount', loop_device, str(mount_point))
            mounted = True
        except (OSError, subprocess.CalledProcessError) as e:
            why = ' '.join(str(getattr(e, 'stderr', None) or e).split())[:200]
            log(f'downloads go to the work dir: {why}')
            yield _fallback(work_dir, why)
            return
        log(f'downloads go to a fresh journaled ext4 on {loop_device} '
            f'({size / GIB:.0f} GiB sparse image), mounted on {mount_point}')
        yield Destination(
            mount_point,
            f'a fresh ext4 made for the run (`mkfs.ext4` defaults, with its '
            f'journal; {size / GIB:.0f} GiB, on a loop device with direct '
            f'I/O over a sparse file on the machine\'s disk)')
    finally:
        if mounted:
            subprocess.run(['umount', str(mount_point)], check=False)
        if loop_device:
            subprocess.run(['losetup', '--detach', loop_device], check=False)
        with contextlib.suppress(OSError):
            mount_point.rmdir()  # only ever empty: never through a mount
        image.unlink(missing_ok=True)
