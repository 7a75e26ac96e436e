"""Reading the CSV files the imports take (customers, products and SKUs, vouchers, gift cards): one
place that decides what a readable file is and how a bad one fails.

A file is UTF-8 (a byte-order mark is fine) without NUL characters, with lines ended by `\\n`, `\\r\\n`
or a bare `\\r` (old spreadsheets write those). What is not is refused whole as `400 invalid_csv` when the
upload is checked, before any async action starts, so no job is left to fail later on the same bytes.
Rows are then numbered as in the file (the header is row 1) and blank rows are skipped.
"""

import csv
import io
import math
import re
from collections.abc import Iterator

from core import inputs
from core.errors import InvalidPayload
from core.models import MetadataSchema

_INTEGER = re.compile(r"-?\d+")
BOOLEAN_TEXTS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _invalid(details: str, message: str = "Invalid CSV file") -> InvalidPayload:
    return InvalidPayload(details, key="invalid_csv", message=message)


def csv_text(content) -> str:
    content = bytes(content or b"")  # PostgreSQL hands a stored attachment back as a memoryview
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("The file must be UTF-8 encoded CSV")
    if "\x00" in text:
        raise _invalid("The file must not contain NUL characters (is it a spreadsheet rather than CSV?)")
    return text


def open_csv(content) -> tuple[list[str], Iterator[list[str]]]:
    """The header row and a reader positioned on the first data row."""
    # newline="": the csv module sees line ends as they are, so a bare \r ends a row instead of failing it
    reader = csv.reader(io.StringIO(csv_text(content), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise _invalid("The file is empty: the first line must name the columns")
    except csv.Error as exc:
        raise _invalid(f"The header row is not valid CSV: {exc}")
    return header, reader


def data_rows(reader) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank."""
    try:
        return [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]
    except csv.Error as exc:
        raise _invalid(f"The file is not valid CSV near line {reader.line_num}: {exc}")


def header_errors(message: str, problems: list[str]) -> None:
    if problems:
        raise _invalid("; ".join(problems), message=message)


def metadata_types(related_object: str) -> dict[str, str]:
    """Metadata key -> the type its schema gives it (string when there is no schema)."""
    schema = MetadataSchema.objects.filter(related_object=related_object).first()
    return {key: d.get("type", "string") for key, d in (schema.properties if schema else {}).items()}


def typed_cell(text: str, kind: str):
    """A CSV cell as the metadata schema's type wants it; left as text when it does not parse, so the
    schema check reports it on its row."""
    if kind == "number":
        try:
            number = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:  # not a number, or more digits than Python converts
            return text
        return number if math.isfinite(number) else text  # "inf" and "nan" are no JSON numbers
    if kind == "boolean":
        return BOOLEAN_TEXTS.get(text.lower(), text)
    if kind in ("object", "geopoint"):
        try:
            return inputs.loads(text)
        except ValueError:
            return text
    return text


def json_object_cell(text: str) -> dict:
    """A `metadata` column: a JSON object, under the same rules as an API body (core.inputs)."""
    try:
        value = inputs.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidPayload("the metadata column must hold a JSON object")
    return value
