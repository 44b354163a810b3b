"""Checks every byte a tool downloaded against the seeded data.

A run counts only if its directory holds exactly the data set's files, each
with the sha256 recorded when the data set was generated: a missing,
truncated, corrupted or unexpected file makes the run FAILED.
"""
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

READ_SIZE = 4 * 1024 * 1024
MAX_LISTED_PROBLEMS = 5


@dataclass
class Verification:
    files_checked: int = 0
    bytes_checked: int = 0
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    wrong_size: list = field(default_factory=list)
    wrong_hash: list = field(default_factory=list)

    @property
    def ok(self):
        return not (self.missing or self.unexpected or self.wrong_size
                    or self.wrong_hash)

    def summary(self):
        if self.ok:
            return f'{self.files_checked} files verified'
        parts = []
        for label, names in (('missing', self.missing),
                             ('unexpected', self.unexpected),
                             ('wrong size', self.wrong_size),
                             ('wrong sha256', self.wrong_hash)):
            if names:
                shown = ', '.join(names[:MAX_LISTED_PROBLEMS])
                more = len(names) - MAX_LISTED_PROBLEMS
                parts.append(f'{len(names)} {label} ({shown}'
                             f'{f", +{more} more" if more > 0 else ""})')
        return '; '.join(parts)


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            chunk = f.read(READ_SIZE)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def verify_download(dest_dir, dataset, expected_sha256):
    """Compares ``dest_dir`` with the data set (names relative to its prefix)."""
    dest_dir = Path(dest_dir)
    found = set()
    for root, _dirs, files in os.walk(dest_dir):
        for name in files:
            found.add(os.path.relpath(os.path.join(root, name), dest_dir))
    result = Verification()
    for obj in dataset.objects:
        if obj.name not in found:
            result.missing.append(obj.name)
            continue
        path = dest_dir / obj.name
        if path.stat().st_size != obj.size:
            result.wrong_size.append(obj.name)
            continue
        if _sha256_of(path) != expected_sha256[obj.name]:
            result.wrong_hash.append(obj.name)
            continue
        result.files_checked += 1
        result.bytes_checked += obj.size
    wanted = {obj.name for obj in dataset.objects}
    result.unexpected = sorted(found - wanted)
    return result
