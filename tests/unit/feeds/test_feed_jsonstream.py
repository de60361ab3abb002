"""The incremental top-level JSON object reader behind the Debian tracker parser."""

from __future__ import annotations

import io
import json

import pytest

from patchwarden.adapters.feeds import jsonstream
from patchwarden.adapters.feeds.jsonstream import JsonShapeError, iter_object

from .data import DATA

DOCS = [
    "{}",
    ' { "a" : 1 , "b":[1,2,{"c":"d"}], "e": 123456789, "f": true, "g": null, "h": "x\\"y" } ',
    '{"a": 1.5e10, "\\u00e9": -12, "long": "' + "z" * 300 + '"}',
]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 20])
def test_same_pairs_as_json_loads_whatever_the_chunk_size(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    tracker = (DATA / "debian-tracker" / "tracker-vunnel.json").read_text()
    for doc in [*DOCS, tracker]:
        assert list(iter_object(io.StringIO(doc))) == list(json.loads(doc).items())


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ("", "expected '{'"),
        ("[1, 2]", "expected '{'"),
        ('{"a": 1', "found end of file"),
        ('{"a": {"b": [1, 2', "truncated"),
        ('{"a": 1,}', "expected '\"'"),
        ('{"a" 1}', "expected ':'"),
        ('{"a": tru}', "invalid JSON"),
        ('{"a": "unterminated', "truncated"),
        ('{"a": 1} {"b": 2}', "trailing data"),
    ],
)
def test_malformed_text_is_one_clear_error(
    doc: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", 3)
    with pytest.raises(JsonShapeError, match=problem):
        list(iter_object(io.StringIO(doc)))


class _Counting(io.StringIO):
    """A stream that remembers how much has been read."""

    read_so_far = 0

    def read(self, size: int | None = -1) -> str:
        data = super().read(size)
        self.read_so_far += len(data)
        return data


def test_reads_incrementally_not_the_whole_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", 4096)
    value = {"CVE-2024-0001": {"releases": {"bookworm": {"status": "open"}}, "pad": "x" * 900}}
    doc = json.dumps({f"pkg{i}": value for i in range(2000)})  # ~2 MB
    stream = _Counting(doc)
    for n, (key, got) in enumerate(iter_object(stream)):
        assert key == f"pkg{n}" and got == value
        end_of_item = (n + 1) * len(doc) / 2000
        assert stream.read_so_far <= end_of_item + 3 * 4096 + 2 * 1000
