"""checksums.full_object_checksum: which checksums are of the bytes."""
import pytest

from awscli_ppdl.checksums import (
    etag_md5, full_object_checksum, is_multipart_etag)


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
