"""Step 1 of loading a FEC (reader.py): the bytes of the file, streamed once, become a
UTF-8 text file with one LF per record, whose n-th line is the n-th physical line of the
original; the header is read and checked on the way."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from django.utils.translation import gettext

from levier.advaudit.fec.columns import HeaderMap, header_key, map_header
from levier.advaudit.fec.errors import FecUnreadable

CHUNK_BYTES: Final = 8 * 1024 * 1024
SNIFF_BYTES: Final = 64 * 1024
# A "line" longer than this without a line end is not a FEC record (a binary, a one-line
# export of something else): refused rather than held in memory.
MAX_LINE_BYTES: Final = 1024 * 1024

EMPTY_LINE_MARK: Final = "\x1e"  # stands for an empty line in the normalised text
_MARK: Final = EMPTY_LINE_MARK.encode()
# Control bytes: C0 (but tab, LF, CR) and DEL; C1 (0x80–0x9F) too in ISO-8859-15, where they
# are not characters. `bytes.translate(None, _KEEP_…)` leaves only those: a fast test.
_C0 = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
_C1 = bytes(range(0x80, 0xA0))
_KEEP_C0: Final = bytes(byte for byte in range(256) if byte not in _C0)
_KEEP_C0_C1: Final = bytes(byte for byte in range(256) if byte not in _C0 + _C1)
_CONTROL_C0 = re.compile(b"[" + re.escape(_C0) + b"]")
_CONTROL_C0_C1 = re.compile(b"[" + re.escape(_C0 + _C1) + b"]")
# Padding is a habit of the exporting software: the first chunks are searched whole, later
# ones by a slice (each search of a whole chunk costs as much as reading it).
_PADDING_FULL_CHUNKS: Final = 4
_PADDING_SLICE: Final = 256 * 1024


@dataclass(frozen=True)
class Header:
    fields: tuple[str, ...]
    separator: str
    columns: HeaderMap
    quoted: bool


@dataclass
class Scan:
    encoding: str
    header: Header
    line_count: int = 0  # physical lines, header included
    control_chars: int = 0
    control_lines: tuple[int, ...] = ()
    padded: bool = False  # some field has blanks around it: SQL trims (slower) only then


class _RestartAs(Exception):
    """The encoding guessed is wrong: transcode again from the start with `encoding`."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.encoding = encoding


def _sniff_encoding(path: Path, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise FecUnreadable(
            path,
            gettext(
                "it holds binary data, not text (is it an Excel, ZIP or PDF file?); a FEC "
                "is a text file with one entry line per line"
            ),
            code="binary",
        )
    return "utf-8"


def _read_header(path: Path, text: str) -> Header:
    fields_text = text.lstrip("\ufeff")
    if not fields_text.strip():
        raise FecUnreadable(path, gettext("its first line is empty"), code="no_header")
    tabs, pipes = fields_text.count("\t"), fields_text.count("|")
    candidates = [sep for sep, count in (("\t", tabs), ("|", pipes)) if count]
    if not candidates:
        other = next((sep for sep in (";", ",") if sep in fields_text), None)
        if other is not None:
            reason = gettext(
                "its fields are separated by “%(separator)s”; a FEC separates them by a tab or “|”"
            ) % {"separator": other}
        else:
            reason = gettext("its first line holds no tab or “|” separating column names")
        raise FecUnreadable(path, reason, code="no_separator")

    def recognised(sep: str) -> int:
        return len(map_header(fields_text.split(sep)).positions)

    separator = max(candidates, key=recognised)
    fields = tuple(fields_text.split(separator))
    columns = map_header(fields)
    if not columns.positions:
        raise FecUnreadable(
            path,
            gettext("its first line does not hold the FEC column names (JournalCode, …)"),
            code="not_a_fec",
        )
    if columns.missing_essential:
        raise FecUnreadable(
            path,
            gettext("the essential column(s) %(columns)s are missing from its header")
            % {"columns": ", ".join(columns.missing_essential)},
            code="missing_essential_column",
        )
    quoted = all(
        field.strip().startswith('"') and field.strip().endswith('"')
        for field in fields
        if header_key(field)
    )
    return Header(fields=fields, separator=separator, columns=columns, quoted=quoted)


def _normalise(data: bytes) -> bytes:
    """Every record end (CR CR LF, CRLF, CR) becomes LF; bytes without CR are left alone."""
    if b"\r" not in data:
        return data
    if b"\r\r\n" in data:
        data = data.replace(b"\r\r\n", b"\n")
    data = data.replace(b"\r\n", b"\n")
    if b"\r" in data:
        data = data.replace(b"\r", b"\n")
    return data


def _transcode(
    path: Path,
    out: Path,
    encoding: str,
    progress: Callable[[int, int], None] | None,
    *,
    restart_on_c1: bool = False,
) -> Scan:
    """One pass over the file, in bytes (UTF-16 is first re-encoded as UTF-8, so that CR,
    LF, separators and control codes are single bytes whatever the encoding)."""
    total = path.stat().st_size
    utf16 = codecs.getincrementaldecoder("utf-16")() if encoding == "utf-16" else None
    text_codec = "utf-8" if encoding in ("utf-8", "utf-8-sig", "utf-16") else encoding
    keep, controls_pattern = (
        (_KEEP_C0_C1, _CONTROL_C0_C1) if text_codec == "iso8859_15" else (_KEEP_C0, _CONTROL_C0)
    )
    carry = b""
    scan: Scan | None = None
    line_count = 0
    control_chars = 0
    control_lines: list[int] = []
    padded = False
    chunks = 0
    done = 0
    with path.open("rb") as source, out.open("wb") as sink:
        while True:
            chunk = source.read(CHUNK_BYTES)
            final = not chunk
            done += len(chunk)
            if utf16 is not None:
                chunk = utf16.decode(chunk, final).encode("utf-8")
            elif chunks == 0 and encoding == "utf-8-sig":
                chunk = chunk[len(codecs.BOM_UTF8) :]
            chunks += 1
            data = carry + chunk
            held = b"" if final else data[len(data.rstrip(b"\r")) :]
            body = _normalise(data[: len(data) - len(held)])
            if final:
                complete = body + b"\n" if body and not body.endswith(b"\n") else body
                partial = b""
            else:
                cut = body.rfind(b"\n") + 1
                complete, partial = body[:cut], body[cut:]
            carry = partial + held
            if len(carry) > MAX_LINE_BYTES:
                raise FecUnreadable(
                    path,
                    gettext("line %(line)s is longer than %(limit)s bytes")
                    % {"line": line_count + 1, "limit": MAX_LINE_BYTES},
                    code="line_too_long",
                )
            if complete:
                found_controls = complete.translate(None, keep)
                if found_controls:
                    if restart_on_c1 and found_controls.translate(None, _C0):
                        raise _RestartAs("cp1252")
                    complete, found, lines = _replace_controls(
                        path, complete, controls_pattern, line_count
                    )
                    control_chars += found
                    control_lines.extend(lines[: 20 - len(control_lines)])
                if complete.startswith(b"\n"):
                    complete = _MARK + complete
                if b"\n\n" in complete:
                    # Two passes mark every empty line, however many follow each other.
                    complete = complete.replace(b"\n\n", b"\n" + _MARK + b"\n")
                    complete = complete.replace(b"\n\n", b"\n" + _MARK + b"\n")
                text = complete.decode(text_codec)  # for UTF-8, only a validation
                if scan is None:
                    first_line = text[: text.index("\n")]
                    header = _read_header(path, first_line.replace(EMPTY_LINE_MARK, ""))
                    scan = Scan(encoding=encoding, header=header)
                if not padded:
                    window = (
                        complete if chunks <= _PADDING_FULL_CHUNKS else complete[:_PADDING_SLICE]
                    )
                    padded = _has_padding(window, scan.header.separator.encode())
                if text_codec != "utf-8":
                    complete = text.encode("utf-8")
                line_count += complete.count(b"\n")
                sink.write(complete)
            if progress is not None:
                progress(done, total)
            if final:
                break
    if scan is None:
        raise FecUnreadable(path, gettext("the file is empty"), code="empty")
    scan.line_count = line_count
    scan.control_chars = control_chars
    scan.control_lines = tuple(control_lines)
    scan.padded = padded
    return scan


def _has_padding(data: bytes, separator: bytes) -> bool:
    """Substring searches (fast, in C): is any field padded with spaces?"""
    return (
        data.startswith(b" ")
        or b" " + separator in data
        or separator + b" " in data
        or b" \n" in data
        or b"\n " in data
    )


def _replace_controls(
    path: Path, data: bytes, pattern: re.Pattern[bytes], lines_before: int
) -> tuple[bytes, int, list[int]]:
    """Control characters become spaces (counted); a NUL means binary data."""
    lines: list[int] = []
    found = 0
    for match in pattern.finditer(data):
        line = lines_before + data.count(b"\n", 0, match.start()) + 1
        if match.group() == b"\x00":
            raise FecUnreadable(
                path,
                gettext("line %(line)s holds binary data (a NUL byte), not text") % {"line": line},
                code="binary",
            )
        found += 1
        if len(lines) < 20 and (not lines or lines[-1] != line):
            lines.append(line)
    return pattern.sub(b" ", data), found, lines


def scan_file(path: Path, out: Path, progress: Callable[[int, int], None] | None) -> Scan:
    """Transcode with the sniffed encoding; text that is not UTF-8 is read again as
    ISO-8859-15, and as Windows-1252 when it holds bytes 0x80–0x9F (which Windows-1252
    defines and ISO-8859-15 leaves as control codes)."""
    try:
        with path.open("rb") as source:
            head = source.read(SNIFF_BYTES)
    except OSError as error:
        raise FecUnreadable(path, str(error.strerror or error), code="io") from None
    encoding = _sniff_encoding(path, head)
    try:
        return _transcode(path, out, encoding, progress)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise FecUnreadable(
                path,
                gettext("it starts with a %(encoding)s mark but its text is not %(encoding)s")
                % {"encoding": "UTF-8" if encoding == "utf-8-sig" else "UTF-16"},
                code="encoding",
            ) from None
    try:
        return _transcode(path, out, "iso8859_15", progress, restart_on_c1=True)
    except _RestartAs:
        pass
    try:
        return _transcode(path, out, "cp1252", progress)
    except UnicodeDecodeError:
        # Bytes Windows-1252 leaves undefined: ISO-8859-15 it is, its C1 codes replaced
        # (and reported) as control characters.
        return _transcode(path, out, "iso8859_15", progress)
