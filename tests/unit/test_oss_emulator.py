"""The OSS emulator's request and response rewrites (test support code, checked on its own)."""

from __future__ import annotations

import pytest

from tests.support.oss_emulator import drop_empty_query_params, oss_listing_xml, plain_authorization


def test_empty_listing_parameters_are_dropped_and_sub_resources_kept() -> None:
    query = "list-type=2&prefix=&delimiter=&continuation-token=&start-after=&max-keys=10&encoding-type=url"
    assert drop_empty_query_params(query) == "list-type=2&max-keys=10&encoding-type=url"
    assert drop_empty_query_params("delete=&encoding-type=url") == "delete=&encoding-type=url"
    assert (
        drop_empty_query_params("prefix=a%2Fb&continuation-token=abc")
        == "prefix=a%2Fb&continuation-token=abc"
    )
    assert drop_empty_query_params("") == ""


def test_v4_authorization_becomes_a_plain_one() -> None:
    header = (
        "OSS4-HMAC-SHA256 Credential=key-id/20260101/cn-hangzhou/oss/aliyun_v4_request, "
        "Signature=0a1b2c, AdditionalHeaders=host"
    )
    assert plain_authorization(header) == "OSS key-id:0a1b2c"
    with pytest.raises(ValueError, match="not a V4 OSS Authorization header"):
        plain_authorization("OSS key-id:abc")


def test_listing_xml_loses_its_namespace_and_gains_a_type() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
        b"<Contents><Key>a</Key><Size>1</Size></Contents>"
        b"<Contents><Key>b</Key><Type>Appendable</Type></Contents></ListBucketResult>"
    )
    assert oss_listing_xml(body) == (
        b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>'
        b"<Contents><Key>a</Key><Size>1</Size><Type>Normal</Type></Contents>"
        b"<Contents><Key>b</Key><Type>Appendable</Type></Contents></ListBucketResult>"
    )
