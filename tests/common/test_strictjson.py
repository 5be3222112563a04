"""What the API's JSON reader accepts and what it refuses, with the reason it gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import strictjson

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=strictjson.MIN_INT, max_value=strictjson.MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: "\x00" not in k), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_every_ordinary_document_reads_back_unchanged(value) -> None:
    import json

    assert strictjson.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 34 + b"]" * 34, "nested deeper than 32"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper than 32"),
        (b'{"a": "\\ud800"}', "unpaired UTF-16 surrogates (at $.a)"),
        (b'{"a": ["x\\u0000"]}', "NUL characters (at $.a[0])"),
        (b'{"a\\u0000": 1}', "NUL characters (at $ (a key))"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"a": 1e999}', "Number out of range: 1e999"),
        (b'{"a": ' + b"7" * 5000 + b"}", "Number out of range"),
        (b'{"a": 9223372036854775808}', "Number out of range"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b'{"a": 1', "Malformed JSON: Expecting ',' delimiter (line 1"),
    ],
)
def test_refused_documents_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(strictjson.InputError) as refused:
        strictjson.loads(body)
    assert reason in str(refused.value)


def test_the_64_bit_range_and_a_byte_order_mark_are_fine() -> None:
    document = b'\xef\xbb\xbf{"low": -9223372036854775808, "high": 9223372036854775807}'
    assert strictjson.loads(document) == {"low": strictjson.MIN_INT, "high": strictjson.MAX_INT}


def test_a_paired_surrogate_escape_is_an_ordinary_character() -> None:
    assert strictjson.loads(b'"\\ud83d\\ude00"') == "\N{GRINNING FACE}"
