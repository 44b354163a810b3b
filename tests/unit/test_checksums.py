"""checksums.full_object_checksum: which checksums are of the bytes."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import base64
import os

import pytest

from awscli_ppdl.checksums import (
    CRC_ALGORITHMS, PartCrc, _checksum_class, combine_crcs, etag_md5,
    full_object_checksum, is_multipart_etag, verify_part_crcs)


@pytest.mark.parametrize('etag,expected', [
    ('"d41d8cd98f00b204e9800998ecf8427e"', False),
    ('"d41d8cd98f00b204e9800998ecf8427e-2"', True),
    ('abc-12', True), ('abc-', False), (None, False), ('', False)])
def test_multipart_etags(etag, expected):
    assert is_multipart_etag(etag) is expected


@pytest.mark.parametrize('field,algorithm', [
    ('ChecksumSHA256', 'sha256'), ('ChecksumSHA1', 'sha1'),
    ('ChecksumCRC32', 'crc32'), ('ChecksumCRC64NVME', 'crc64nvme')])
def test_no_type_and_a_multipart_etag_is_not_checked(field, algorithm):
    response = {field: 'AAAA', 'ETag': '"0123-2"'}
    assert full_object_checksum(response) is None
    response['ETag'] = '"0123"'
    assert full_object_checksum(response) == (algorithm, 'AAAA')


def test_the_type_decides_when_sent():
    multipart = {'ChecksumCRC32': 'AAAA', 'ETag': '"0123-2"'}
    assert full_object_checksum(
        dict(multipart, ChecksumType='FULL_OBJECT')) == ('crc32', 'AAAA')
    assert full_object_checksum(
        dict(multipart, ChecksumType='COMPOSITE')) is None
    assert full_object_checksum(
        {'ChecksumCRC32': 'AAAA-2', 'ETag': '"0123"'}) is None


MD5 = '0123456789abcdef0123456789ABCDEF'


@pytest.mark.parametrize('etag,sse,sse_c,expected', [
    (f'"{MD5}"', None, None, MD5.lower()),
    (f'"{MD5}"', 'AES256', None, MD5.lower()),
    (f'"{MD5}-2"', None, None, None),
    (f'"{MD5}"', 'aws:kms', None, None),
    (f'"{MD5}"', 'aws:kms:dsse', None, None),
    (f'"{MD5}"', None, 'AES256', None),
    ('"abc"', None, None, None), (None, None, None, None),
    (f'"{MD5[:-1]}g"', None, None, None)])
def test_etag_md5(etag, sse, sse_c, expected):
    assert etag_md5(etag, sse, sse_c) == expected


# -- full-object CRCs combined from the parts' --------------------------------

@pytest.mark.parametrize('algorithm', CRC_ALGORITHMS)
@pytest.mark.parametrize('sizes', [[1], [5, 0, 7], [1000, 1, 65536, 3]])
def test_combined_part_crcs_are_the_crc_of_the_whole(algorithm, sizes):
    data = os.urandom(sum(sizes))
    part_crcs, start = [], 0
    for size in sizes:
        crc = PartCrc(algorithm)
        part = memoryview(data)[start:start + size]
        crc.update(part[:size // 2])  # in two blocks, as a worker reads
        crc.update(part[size // 2:])
        part_crcs.append((crc.value, size))
        start += size
    whole = _checksum_class(algorithm)()
    whole.update(data)
    expected = base64.b64encode(whole.digest()).decode()
    verify_part_crcs(algorithm, expected, part_crcs)  # no error
    assert combine_crcs(algorithm, part_crcs) == int.from_bytes(
        whole.digest(), 'big')


def test_a_combined_crc_that_does_not_match_says_both_values():
    from botocore.exceptions import FlexibleChecksumError

    crc = PartCrc('crc64nvme')
    crc.update(b'abc')
    wrong = base64.b64encode(b'\0' * 8).decode()
    with pytest.raises(FlexibleChecksumError) as raised:
        verify_part_crcs('crc64nvme', wrong, [(crc.value, 3)])
    got = base64.b64encode(crc.value.to_bytes(8, 'big')).decode()
    assert str(raised.value) == (
        f'Expected checksum {wrong} did not match calculated checksum: {got}')
