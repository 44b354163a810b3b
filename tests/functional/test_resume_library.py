"""Resume the library way: a download whose size and ETag the caller
gives (``expected_size``, a subscriber's ``provide_object_etag``)."""
import os

import pytest

from awscli_ppdl import resume
from tests.helpers import file_sha256, files_under, library_downloader, sha256

MiB = 1024 * 1024


class ProvideETag:
    """As the CLI's ``ProvideETagSubscriber``."""

    def __init__(self, etag):
        self._etag = etag

    def on_queued(self, future, **kwargs):
        future.meta.provide_object_etag(self._etag)


@pytest.mark.timeout(120)
def test_more_resumable_downloads_than_may_be_open_at_once_all_complete(
        monkeypatch, s3_server, s3_client, bucket, tmp_path):
    """Each resumable download holds its record open until it ends; past
    MAX_OPEN_PARTIALS (2 here) a submission waits for one to end, and
    every download completes, leaving no record."""
    monkeypatch.setattr(resume, 'MAX_OPEN_PARTIALS', 2)
    opened, open_now = [], []
    real_open = resume.Partial.open

    def counted_open(filename, identity, on_unlock):
        def unlocked():
            open_now.remove(filename)
            on_unlock()
        partial = real_open(filename, identity, unlocked)
        opened.append(filename)
        open_now.append(filename)
        assert len(open_now) <= 2
        return partial
    monkeypatch.setattr(resume.Partial, 'open', counted_open)
    bodies = {}
    for i in range(5):
        bodies[f'k{i}'] = os.urandom(3 * MiB - i)
        s3_client.put_object(Bucket=bucket, Key=f'k{i}', Body=bodies[f'k{i}'])
    with library_downloader(s3_server.endpoint_url) as downloader:
        futures = [
            downloader.download_file(
                bucket, key, str(tmp_path / key), expected_size=len(body),
                subscribers=[ProvideETag(s3_client.head_object(
                    Bucket=bucket, Key=key)['ETag'])])
            for key, body in bodies.items()]
    for future in futures:
        future.result()
    assert files_under(tmp_path) == set(bodies)
    for key, body in bodies.items():
        assert file_sha256(tmp_path / key) == sha256(body)
    assert downloader.kept_partials() == []
    assert len(opened) == 5 and open_now == []
