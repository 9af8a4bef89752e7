"""Every CSV the service writes goes through here: spreadsheets must never run what a file holds.

A text cell that starts with =, +, -, @, a tab or a carriage return is read by spreadsheet programs
as a formula (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`): it gets a leading apostrophe (OWASP's
advice), so it shows as the text it is. Numbers stay numbers; booleans are written `true`/`false`,
empty values as empty cells.
"""

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeDictWriter:
    """csv.DictWriter with every cell passed through safe_cell."""

    def __init__(self, handle: IO[str], fieldnames: Sequence[str]) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=list(fieldnames))

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({key: safe_cell(value) for key, value in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str], fieldnames: Sequence[str], header: bool = True) -> SafeDictWriter:
    writer = SafeDictWriter(handle, fieldnames)
    if header:
        writer.writeheader()
    return writer


class SafeWriter:
    """csv.writer with every cell passed through safe_cell."""

    def __init__(self, handle: IO[str]) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(value) for value in values])
