"""Known-answer vectors of SPEC.md section 2 and the canonicalisation rules."""

from __future__ import annotations

from emulator import signing

AK = "EXAMPLEAKID00001"
SK = "exampleSecretKey0123456789abcdef"
DATE = "Thu, 14 May 2020 16:17:40 GMT"
NONCE = "60d0bd7e-95bb-11ea-b1d2-005056400001"
BODY = b'{"name":"demo","quality":6}'


def test_vector_1_get_with_query() -> None:
    headers = signing.sign_request(
        method="GET",
        path="/api/list_task",
        query={"status": "success", "start_time": 1589386660, "end_time": 1589473060, "count": 10},
        access_key_id=AK,
        access_key_secret=SK,
        date=DATE,
        nonce=False,
    )
    assert headers["Authorization"] == (
        "Visionular AccessKeyId=EXAMPLEAKID00001, Signature=UR89wcwAYwXBFdj5jwxZdiKqQ0U="
    )


def test_vector_1_string_to_sign() -> None:
    resource = signing.canonical_resource(
        "/api/list_task",
        [
            ("status", "success"),
            ("start_time", "1589386660"),
            ("end_time", "1589473060"),
            ("count", "10"),
        ],
    )
    sts = signing.primary_string_to_sign(
        method="GET", body=b"", content_type="", date=DATE, headers=[], resource=resource
    )
    assert sts == (
        "GET\n\n\nThu, 14 May 2020 16:17:40 GMT\n\n"
        "/api/list_task?count=10&end_time=1589473060&start_time=1589386660&status=success"
    )


def test_vector_2_post_with_body_and_nonce() -> None:
    assert signing.content_md5(BODY) == "9B036B8C0CCD5BFA2CB30C411683FC4E"
    headers = signing.sign_request(
        method="POST",
        path="/api/add_template",
        body=BODY,
        access_key_id=AK,
        access_key_secret=SK,
        date=DATE,
        nonce=NONCE,
    )
    assert headers["Authorization"].endswith("Signature=bnb3mVB0hAJL6NfnE2Gr0nH7VRc=")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Wz-Nonce"] == NONCE


def test_vector_3_legacy() -> None:
    params = signing.legacy_params(None, BODY)
    sts = signing.legacy_string_to_sign(method="POST", path="/api/add_template", params=params)
    assert sts == "POST&/api/add_template&name=demo&quality=6"
    assert signing.signature(SK, sts) == "4nS4BRIE591nwU43CW5ktoC7AIg="


def test_empty_body_has_empty_md5() -> None:
    assert signing.content_md5(b"") == ""


def test_canonical_headers_lowercased_trimmed_sorted() -> None:
    headers = [("X-Wz-Nonce", " n1 "), ("Date", DATE), ("x-wz-Alpha", "a"), ("Content-Type", "x")]
    assert signing.canonical_headers(headers) == "x-wz-alpha:a\nx-wz-nonce:n1"


def test_no_x_wz_headers_leave_two_newlines() -> None:
    sts = signing.primary_string_to_sign(
        method="GET", body=b"", content_type="", date=DATE, headers=[], resource="/api/x"
    )
    assert sts == f"GET\n\n\n{DATE}\n\n/api/x"


def test_unicode_values_are_signed_as_utf8() -> None:
    resource = signing.canonical_resource("/api/query_template", [("name", "模板")])
    sts = signing.primary_string_to_sign(
        method="GET", body=b"", content_type="", date=DATE, headers=[], resource=resource
    )
    assert sts.endswith("/api/query_template?name=模板")
    assert signing.signature(SK, sts) == signing.signature(SK, sts.encode().decode("utf-8"))


def test_legacy_values_booleans_nulls_nested_and_numbers_as_written() -> None:
    body = b'{"b":true,"n":null,"o":{"x":1,"a":[1,2]},"f":6.50,"s":"x y"}'
    assert dict(signing.legacy_params(None, body)) == {
        "b": "true",
        "n": "",
        "o": '{"x":1,"a":[1,2]}',
        "f": "6.50",
        "s": "x y",
    }


def test_legacy_without_parameters_ends_in_ampersand() -> None:
    assert signing.legacy_string_to_sign(method="GET", path="/api/list_storage", params=[]) == (
        "GET&/api/list_storage&"
    )


def test_parse_authorization_tolerates_spaces_after_comma() -> None:
    assert signing.parse_authorization("Visionular AccessKeyId=AK,    Signature=abc=") == (
        "AK",
        "abc=",
    )
    assert signing.parse_authorization("visionular AccessKeyId=AK, Signature=abc") is None
    assert signing.parse_authorization("Basic QUs6U0s=") is None


def test_encoded_query_pairs_keep_values_as_sent() -> None:
    assert signing.encoded_query_pairs("name=a%20b&x=1") == [("name", "a%20b"), ("x", "1")]
