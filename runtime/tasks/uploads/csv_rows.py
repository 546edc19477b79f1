"""CSV records from a byte stream, each with its spreadsheet row number and end offset.

Reads S3's streaming body chunk by chunk and never holds more than one line, so memory
does not grow with the file. Each record carries the byte offset where the next one
starts: that is the checkpoint a continuation resumes from with a ranged GET.

Lines are split on ``\\n`` before decoding, which is safe for UTF-8 (a newline byte is
never part of a multi-byte character), and decoded strictly: a file in another
encoding stops with :class:`NotUtf8Error` naming the row and byte. A UTF-8 byte order
mark at the very start is skipped. ``csv.reader`` pulls lines lazily and stops at the
end of a record, so the offset after a record is exact even when a quoted field spans
lines.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["CsvReadError", "MalformedCsvError", "NotUtf8Error", "Record", "RecordReader"]

# A property row is a few hundred bytes; a much longer "line" means a file that is not
# a property CSV (or binary), and buffering it would let one line eat the memory.
MAX_LINE_BYTES = 64 * 1024


class CsvReadError(Exception):
    """The byte stream is not a readable CSV from ``row`` on."""

    def __init__(self, reason: str, *, row: int, byte_offset: int) -> None:
        super().__init__(f"row {row} (byte {byte_offset}): {reason}")
        self.reason = reason
        self.row = row
        self.byte_offset = byte_offset


class NotUtf8Error(CsvReadError):
    """A line is not valid UTF-8."""


class MalformedCsvError(CsvReadError):
    """The csv module refused a record, or a line is implausibly long."""


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    fields: list[str]
    next_offset: int


class RecordReader:
    """Iterate the records in ``chunks``, which start at byte ``start_offset`` of the file.

    ``first_row`` is the row number of the first record (the header is row 1). Blank
    lines are skipped but keep their row number, as in a spreadsheet.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        start_offset: int = 0,
        first_row: int = 1,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self._chunks = chunks
        self._offset = start_offset
        self._row = first_row
        self._max_line_bytes = max_line_bytes

    @property
    def offset(self) -> int:
        """The byte offset of the first record not yet returned."""
        return self._offset

    @property
    def next_row(self) -> int:
        """The row number of the first record not yet returned."""
        return self._row

    def __iter__(self) -> Iterator[Record]:
        reader = csv.reader(self._decoded_lines())
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise MalformedCsvError(
                    f"not valid CSV: {error}", row=self._row, byte_offset=self._offset
                ) from error
            row, self._row = self._row, self._row + 1
            if fields:
                yield Record(row, fields, self._offset)

    def _decoded_lines(self) -> Iterator[str]:
        for line in self._raw_lines():
            start = self._offset
            text_bytes = line
            if start == 0 and line.startswith(codecs.BOM_UTF8):
                text_bytes = line[len(codecs.BOM_UTF8) :]
            try:
                text = text_bytes.decode("utf-8")
            except UnicodeDecodeError as error:
                raise NotUtf8Error(
                    f"not UTF-8 ({error.reason} at byte {start + error.start}); save the file "
                    "as CSV UTF-8",
                    row=self._row,
                    byte_offset=start + error.start,
                ) from error
            # Advance before yielding: csv.reader returns a record right after pulling
            # its last line, so at that point the offset is already past it.
            self._offset += len(line)
            yield text

    def _raw_lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._chunks:
            pending += chunk
            start = 0
            while (end := pending.find(b"\n", start)) != -1:
                yield pending[start : end + 1]
                start = end + 1
            pending = pending[start:]
            if len(pending) > self._max_line_bytes:
                raise MalformedCsvError(
                    f"a line is longer than {self._max_line_bytes} bytes; this is not a "
                    "property CSV",
                    row=self._row,
                    byte_offset=self._offset,
                )
        if pending:
            yield pending
