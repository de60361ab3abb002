"""Crashes the parser fuzzing (``test_parsers_fuzz.py``) found, each with its minimal input:
bad input raises the project's own error with a one-line message, is skipped where the
parser skips odd records (feeds), or (a schedule whose next run cannot be represented) ends
the schedule."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.feeds import FEEDS
from patchwarden.adapters.image.layers import LayerFiles, apply_layer
from patchwarden.adapters.image.reader import OciImageReader
from patchwarden.adapters.os.apt.changelog import newest_entry_date
from patchwarden.adapters.os.apt.phasing import percentage
from patchwarden.adapters.os.apt.policy import package_matches, parse_preferences
from patchwarden.adapters.os.dnf import rpmdb
from patchwarden.adapters.os.dnf.repomd import parse_repomd
from patchwarden.adapters.os.dnf.updateinfo import iter_notices
from patchwarden.adapters.os.zypper.execute import stream
from patchwarden.adapters.os.zypper.patches import parse_patch
from patchwarden.core.schedule import next_runs, parse_schedule
from patchwarden.documents import load_documents, parse_documents
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.ports import RunResult


@pytest.mark.parametrize("text", ["\x03", "apiVersion: patchwarden/v1\nkind: \x07\n", "\ufffe"])
def test_yaml_control_character_is_an_input_error(text: str) -> None:
    """PyYAML refuses a control character when its loader is made, before parsing: that
    ``ReaderError`` escaped ``parse_text`` (a 500 from the server, a traceback from the CLI)."""
    with pytest.raises(InputError, match=r"^doc\.yaml: invalid YAML at character \d+: ") as info:
        parse_documents(text, "doc.yaml")
    assert "\n" not in str(info.value)


def test_yaml_control_character_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_bytes(b"\x03 Approve every update\napiVersion: patchwarden/v1\n")
    with pytest.raises(InputError, match="unacceptable character #x0003"):
        load_documents(path)


@pytest.mark.parametrize("data", [b"\x1f\x8b\x08", b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\x00"])
def test_layer_with_a_truncated_gzip_header_is_an_input_error(data: bytes) -> None:
    """tarfile's stream reader calls ``ord()`` on the empty read past a gzip header cut short:
    a ``TypeError`` escaped ``apply_layer``."""
    with pytest.raises(InputError, match=r"^layer: not a readable layer \(truncated gzip header\)"):
        apply_layer(LayerFiles(), io.BytesIO(data), "layer")


def test_rate_schedule_past_the_year_9999_ends() -> None:
    """``rate(1000000 days)`` from 2026: the third run would be after 9999-12-31, where
    ``datetime`` overflows; the schedule has no run left instead of an ``OverflowError``."""
    after = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    runs = next_runs("rate(1000000 days)", after=after, count=3)
    assert [run.year for run in runs] == [4764, 7502]
    late = datetime(9999, 1, 1, tzinfo=UTC)
    assert parse_schedule("rate(1000000 days)").next_after(late, start=after) is None


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [("TTF-8", "unknown encoding: TTF-8"), ("UTF-7", "multi-byte encodings are not supported")],
)
@pytest.mark.parametrize("root", [b"<updates/>", b"<repomd/>"])
def test_xml_with_an_unknown_encoding_is_an_environment_problem(
    root: bytes, encoding: str, problem: str
) -> None:
    """expat raises ``LookupError`` for an encoding it does not know (``TTF-8``, a flipped
    bit) and ``ValueError`` for a multi-byte one (``UTF-7``, found by atheris): both escaped
    ``iter_notices`` and ``parse_repomd``."""
    xml = b'<?xml version="1.0" encoding="' + encoding.encode() + b'"?>' + root
    with pytest.raises(EnvironmentProblem, match=problem) as info:
        if root == b"<updates/>":
            list(iter_notices(io.BytesIO(xml), "updateinfo.xml"))
        else:
            parse_repomd(xml, "repomd.xml")
    assert "\n" not in str(info.value)


OSV_RECORD = {
    "id": "DSA-0000-1",
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "foo"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}],
            "severity": [{"type": ["CVSS_V3"], "score": "CVSS:3.1/AV:N"}],
        }
    ],
}


def test_osv_severity_with_a_list_as_type_is_read(tmp_path: Path) -> None:
    """``severity[].type`` a list: ``TypeError: unhashable type`` escaped ``osv.parse``; a
    severity without a string type is now ignored like one of an unknown type."""
    path = tmp_path / "DSA-0000-1.json"
    path.write_text(json.dumps(OSV_RECORD))
    [advisory] = FEEDS["osv-debian"].parse(path, lambda _: None)
    assert advisory.fixed_version == "1.1"
    assert not advisory.cvss_vector


def test_nvd_metrics_not_a_list_is_read(tmp_path: Path) -> None:
    """``metrics.cvssMetricV31: true``: ``TypeError: 'bool' object is not iterable`` escaped
    ``nvd.parse``; a metric that is not a list is now ignored."""
    path = tmp_path / "nvdcve-2.0-2024.json"
    record = {"cve": {"id": "CVE-2024-0001", "metrics": {"cvssMetricV31": True}}}
    path.write_text(json.dumps({"format": "NVD_CVE", "vulnerabilities": [record]}))
    [advisory] = FEEDS["nvd"].parse(path, lambda _: None)
    assert (advisory.id, advisory.cvss_vector, advisory.cvss_score) == ("CVE-2024-0001", "", None)


def test_conformance_pack_parameter_type_not_a_string_is_an_input_error() -> None:
    """``Parameters.X.Type: [Integer]``: ``TypeError: unhashable type`` escaped the pack loader
    (a 500 from the server)."""
    text = (
        "apiVersion: patchwarden/v1\nkind: ConformancePack\nmetadata: {name: p}\n"
        "spec:\n  Parameters:\n    Days: {Type: [Integer], Default: 7}\n  Rules: []\n"
    )
    with pytest.raises(InputError, match=r"Parameters\.Days\.Type: must be one of String, "):
        parse_documents(text, "pack.yaml")


@pytest.mark.parametrize("pattern", ["/[/", "/\\h/"])
def test_apt_pin_with_an_invalid_regex_is_an_environment_problem(pattern: str) -> None:
    """``Package: /[/`` in apt preferences: ``re.error`` escaped the apt scan (apt itself
    stops with "Regex compilation error")."""
    [pin] = parse_preferences(f"Package: {pattern}\nPin: version 1*\nPin-Priority: 900\n")
    with pytest.raises(EnvironmentProblem, match="apt preferences: invalid regular expression"):
        package_matches(pin.packages, "foo")


def test_nvd_descriptions_not_a_list_is_read(tmp_path: Path) -> None:
    """``descriptions: true``: ``TypeError: 'bool' object is not iterable`` escaped
    ``nvd.parse``; the record is read without a summary."""
    path = tmp_path / "nvdcve-2.0-2024.json"
    record = {"cve": {"id": "CVE-2024-0001", "descriptions": True}}
    path.write_text(json.dumps({"format": "NVD_CVE", "vulnerabilities": [record]}))
    [advisory] = FEEDS["nvd"].parse(path, lambda _: None)
    assert advisory.summary == ""


def test_rule_type_not_a_string_is_an_input_error() -> None:
    """A conformance pack rule with ``Type: [x]``: ``TypeError: unhashable type`` escaped the
    rule loader (a 500 from the server)."""
    text = (
        "apiVersion: patchwarden/v1\nkind: ConformancePack\nmetadata: {name: p}\n"
        "spec:\n  Rules:\n    - {Name: r, Type: [no-active-findings]}\n"
    )
    with pytest.raises(InputError, match=r"Type: must be one of .*, got \['no-active-findings'\]"):
        parse_documents(text, "pack.yaml")


class _Rpm:
    def __init__(self, stdout: str) -> None:
        self.stdout = stdout

    def run(self, argv: Sequence[str], **_: object) -> RunResult:
        return RunResult(tuple(argv), 0, self.stdout, "")


def test_rpm_query_with_a_unicode_digit_is_read() -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails: a ``ValueError`` escaped
    ``rpmdb.installed`` for an epoch or install time of Unicode digits; they count as 0."""
    stdout = "bash\t\u00b2\t5.2\t3\tx86_64\t(none)\t\u00b2\n"
    [header] = rpmdb.installed(_Rpm(stdout), "/", "/var/lib/rpm")
    assert (header.name, header.epoch, header.installtime) == ("bash", 0, 0)
    assert rpmdb.providers(_Rpm("bash\t\u00b2\n"), "/", "/var/lib/rpm", ["bash"]) == {}


def test_phased_update_percentage_with_a_unicode_digit_is_unreadable() -> None:
    """``Phased-Update-Percentage: ²`` in a Packages list: a ``ValueError`` escaped the apt
    scan; an unreadable percentage is 100 (not phased), like a missing one."""
    assert percentage({"Phased-Update-Percentage": "\u00b2"}) == 100
    assert percentage({"Phased-Update-Percentage": "50"}) == 50


@pytest.mark.parametrize("stamp", ["\u00b2", "99999999999999999999"])
def test_zypper_patch_issue_date_unreadable_is_no_date(stamp: str) -> None:
    """``<issue-date time_t="²">`` (``ValueError``) or a time past the year 9999
    (``OverflowError``/``OSError``) escaped ``parse_patch``; the patch has no date."""
    xml = (
        '<stream><update-list><update kind="patch" name="p-1">'
        f'<issue-date time_t="{stamp}"/></update></update-list></stream>'
    )
    [patch] = [parse_patch(u) for e in stream(xml) for u in e.iter("update")]
    assert (patch.id, patch.created) == ("p-1", None)


@pytest.mark.parametrize(
    "trailer",
    [
        "Mon, 03 Jun 2024 10:00:00 99999999999999999999999",
        "Mon, 99999999999999999999999 Jun 2024 10:00:00 +0200",
    ],
)
def test_changelog_date_out_of_range_is_no_date(trailer: str) -> None:
    """``email.utils`` overflows on a huge day or zone: an ``OverflowError`` escaped
    ``newest_entry_date``; an unreadable date is ``None``."""
    text = (
        f"foo (1.0-1) unstable; urgency=high\n\n  * Fix.\n\n -- Jane <j@example.org>  {trailer}\n"
    )
    assert newest_entry_date(text) is None


@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"])
def test_oci_digest_with_a_nul_or_a_surrogate_is_an_input_error(tmp_path: Path, bad: str) -> None:
    """An index entry's digest with a NUL (``ValueError: embedded null byte``) or a lone
    surrogate (``UnicodeEncodeError``) escaped the reader when it opened the blob."""
    (tmp_path / "blobs/sha256").mkdir(parents=True)
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = (
        f'{{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{bad}sha256:ab",'
        ' "size": 2, "annotations": {"org.opencontainers.image.ref.name": "v1"}}'
    )
    (tmp_path / "index.json").write_text(f'{{"schemaVersion": 2, "manifests": [{entry}]}}')
    with pytest.raises(InputError, match="missing blob"):
        OciImageReader(platform="linux/amd64").read(f"oci:{tmp_path}:v1")


def test_osv_zip_with_a_member_name_not_utf8_is_an_adapter_error(tmp_path: Path) -> None:
    """A zip whose central directory flags a member name as UTF-8 when it is not: the
    ``UnicodeDecodeError`` of ``zipfile.ZipFile`` escaped ``osv.parse`` (found by atheris)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a\u00e9.json", b"{}")  # a non-ASCII name: the UTF-8 flag is set
    path = tmp_path / "all.zip"
    path.write_bytes(buf.getvalue().replace("a\u00e9".encode(), b"a\x91\x91"))
    with pytest.raises(AdapterError, match=r"^osv-debian: all\.zip: not a readable zip \("):
        list(FEEDS["osv-debian"].parse(path, lambda _: None))
