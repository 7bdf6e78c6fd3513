"""Reading rows and lines from local corpus files (.jsonl, .csv, .tsv, .txt, .raw) into dicts and texts.

Files are read strictly, so that a text is never cut or merged silently: CSV and TSV through the
``csv`` module, every row with exactly as many fields as the header (else an error naming the file
and line); a .csv's fields may be quoted (RFC 4180, as spreadsheets and ``csv.writer`` write them),
a .tsv's are taken as they stand (tab-separated files do not quote: a text may start with ``"``).
UTF-8 with or without a byte-order mark reads alike (``utf-8-sig``), as spreadsheets save "CSV UTF-8".
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import string
import sys
from pathlib import Path
from typing import Any

from ..errors import MiTasksError, one_line, translate_errors

LOCAL_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt", ".raw")
_HEADING = re.compile(r"^\s*=+[^=].*=+\s*$")


def is_text_line(line: str) -> bool:
    """A line that counts as a text: not blank and not a WikiText heading (`` = Title = ``)."""
    s = line.strip()
    return bool(s) and not _HEADING.match(s)


def _text_value(row: dict[str, Any], name: str, where: str) -> str:
    """One field's value as text: a string, or "" for a missing value (null); any other type is an error."""
    value = row[name]
    if value is None or isinstance(value, str):
        return "" if value is None else value
    shown = one_line(repr(value), 40)
    raise MiTasksError(f"{where}: field {name!r} holds a {type(value).__name__} ({shown}), not text; corpus values "
                       "must be strings: write it as a string in the file, or pick text fields with text_field=, "
                       "fields= or template=")


def template_fields(template: str, label: str = "template") -> list[str]:
    """The fields a template names (``{title}``, ``{meta[a]}`` names ``meta``), checked to be a format string."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise MiTasksError(f"{label} {template!r} is not a format string ({e}); write fields as {{name}} and a "
                           "literal brace as {{ or }}") from None
    names = []
    for _, field_name, spec, _ in parts:
        if field_name is None:
            continue
        root = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if not root or root.isdigit():
            raise MiTasksError(f"{label} {template!r} has a positional field {{{field_name}}}; name a field instead, "
                               "e.g. '{title}. {content}'")
        if spec and "{" in spec:
            names.extend(template_fields(spec, label))
        names.append(root)
    return list(dict.fromkeys(names))


def render(row: dict[str, Any], text_field: str | None, fields: tuple[str, ...] | None,
           template: str | None, joiner: str, where: str) -> str:
    """One row's text: a template, several fields joined (empty ones skipped), or one field."""
    try:
        if template is not None:
            values = {k: _text_value(row, k, where) for k in template_fields(template)}
            with translate_errors(f"{where}: template {template!r}", "check its fields and format specs", also=(Exception,)):
                return template.format_map(values).strip()
        if fields:
            parts = [_text_value(row, f, where).strip() for f in fields]
            return joiner.join(p for p in parts if p)
        return _text_value(row, text_field or "text", where)
    except KeyError as e:
        have = ", ".join(map(str, row.keys()))
        raise MiTasksError(
            f"{where} has no field {e.args[0]!r} (fields: {have}); choose one with text_field=, "
            "fields= or template="
        ) from None


def check_template(template: str | None, label: str = "template") -> None:
    """Refuse a template that is no format string, has a positional field, or names no field (every row alike)."""
    if template is not None and not template_fields(template, label):
        raise MiTasksError(f"{label} {template!r} names no field; write e.g. '{{title}}. {{content}}'")


def not_utf8(path: Path) -> MiTasksError:
    """The error for a corpus file that is not UTF-8: the file, the first bad line and how to convert it.

    Found by a second, binary read, so well-formed files pay nothing for the check.
    """
    line = 1
    with path.open("rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.start + 1].hex()
                return MiTasksError(
                    f"corpus file {str(path)!r} is not UTF-8: line {line}, byte {e.start + 1} is 0x{bad}. "
                    f"Convert it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}` "
                    "(name the file's real encoding after -f: latin1, cp1252, utf-16, ...)")
    return MiTasksError(f"corpus file {str(path)!r} is not UTF-8 (line {line}); convert it with iconv -t utf-8")


def checked_path(path: str | os.PathLike) -> Path:
    """An existing corpus file with a known suffix, or a clear error."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MiTasksError(f"corpus file {str(p)!r} does not exist; check the path (relative paths start at {os.getcwd()})")
    if p.is_dir():
        raise MiTasksError(f"corpus path {str(p)!r} is a folder; name a .jsonl, .csv, .tsv or .txt file")
    if p.suffix.lower() not in LOCAL_SUFFIXES:
        raise MiTasksError(f"cannot read {p.name!r}: corpus files must end in {', '.join(LOCAL_SUFFIXES)}")
    return p


ENCODING = "utf-8-sig"  # UTF-8, with its byte-order mark dropped where a file starts with one


def read_rows(path: str | os.PathLike, *, header: bool | None = None, columns: tuple[str, ...] | None = None,
              quoting: bool | None = None) -> list[dict[str, Any]]:
    """Rows of a .jsonl/.csv/.tsv file as dicts; .txt/.raw lines as ``{"text": line}`` (every line, blank ones too).

    ``header`` None: a .csv/.tsv has a header row unless ``columns`` name its columns. ``quoting``
    None: on for .csv; a .tsv is read the one way its rows fit (see ``_delimited``).
    """
    p = checked_path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in (".txt", ".raw"):
            with p.open(encoding=ENCODING) as f:
                return [{"text": line.rstrip("\n")} for line in f]
        if suffix == ".jsonl":
            return _jsonl(p)
        return _delimited(p, header, columns, quoting)
    except UnicodeDecodeError:
        raise not_utf8(p) from None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding=ENCODING) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise MiTasksError(f"{path}:{n} is not valid JSON ({e.msg}); fix or drop that line") from None
                rows.append(obj if isinstance(obj, dict) else {"text": obj})
    return rows


def _delimited(path: Path, header: bool | None, columns: tuple[str, ...] | None,
               quoting: bool | None) -> list[dict[str, Any]]:
    """The rows of a .csv/.tsv file; a row whose field count differs from the header's (or the first row's,
    or ``columns``') is an error naming the file and line, not a text cut at a comma or rows merged.

    ``quoting`` None reads a .csv with quotes and a .tsv both ways: .tsv files in the wild come either
    quoted as ``csv.writer(delimiter="\\t")`` writes them (a tab or line break inside a quoted field) or
    unquoted (a text may start with ``"``). A file that is byte for byte what ``csv.writer`` writes for its
    quoted reading is read that way (every quote in it is one the writer put there). Otherwise the reading
    whose every row has the header's field count is used; where both fit with the same rows it is the quoted
    one, and where they fit with different rows the file is ambiguous and the user says which.
    """
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding=ENCODING, newline="") as f:
        text = f.read()  # read once: both readings and the csv.writer comparison parse this text
    if quoting is not None or path.suffix.lower() != ".tsv":
        _, rows, problem = _reading(path, text, header, columns, quoting if quoting is not None else True)
        if problem:
            raise MiTasksError(problem)
        return rows
    quoted_fields, quoted, quoted_problem = _reading(path, text, header, columns, True)
    if not quoted_problem and _as_csv_writer_writes(text, [r for _, r in quoted_fields]):
        return quoted
    _, plain, plain_problem = _reading(path, text, header, columns, False)
    if quoted_problem and plain_problem:
        raise MiTasksError(plain_problem if "fields where" in plain_problem else quoted_problem)
    if quoted_problem or plain_problem:
        return plain if quoted_problem else quoted
    if len(quoted) != len(plain):
        raise MiTasksError(
            f"{path}: its quotes can be read two ways ({len(quoted)} rows with quotes special, {len(plain)} "
            "without); set the setting train_quoting or eval_quoting (load_corpus's quoting) to true or false, or save the file as .jsonl")
    return quoted


def _as_csv_writer_writes(text: str, fields: list[list[str]]) -> bool:
    """Whether ``csv.writer(delimiter="\\t")`` writes exactly ``text`` for these rows of fields (with the line
    ending of the text's first line, and a last line with or without its line ending)."""
    ending = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator=ending).writerows(fields)
    written = out.getvalue()
    return bool(fields) and (written == text or written == text + ending)


def _fields(path: Path, text: str, quoting: bool) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The non-empty rows of fields read one way (quotes special or not), each with its line number, or the
    first problem as one line naming file and line."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim,
                        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE, strict=quoting)
    raw, line = [], 1
    try:
        for r in reader:
            if r:
                raw.append((line, r))
            line = reader.line_num + 1
    except csv.Error as e:
        return [], f"{path}:{line}: {e}; quote fields as a spreadsheet or Python's csv.writer does"
    return raw, None


def _reading(path: Path, text: str, header: bool | None, columns: tuple[str, ...] | None,
             quoting: bool) -> tuple[list[tuple[int, list[str]]], list[dict[str, Any]], str | None]:
    """One reading (quotes special or not): its fields, its rows as dicts, or the first problem (a broken
    quote, a row of another field count) as one line naming file and line."""
    raw, problem = _fields(path, text, quoting)
    if problem or not raw:
        return raw, [], problem
    if header is None:
        header = columns is None
    if header:
        names, body = raw[0][1], raw[1:]
    else:
        names, body = list(columns) if columns else [str(i) for i in range(len(raw[0][1]))], raw
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    for line, r in body:
        if len(r) != len(names):
            return raw, [], (f"{path}:{line}: {len(r)} fields where the {'header has' if header else 'rows have'} "
                             f"{len(names)} ({', '.join(names)}): {_field_hint(delim, quoting)}")
    return raw, [dict(zip(names, r)) for _, r in body], None


def _field_hint(delim: str, quoting: bool) -> str:
    if delim == ",":
        what = "a text holding a comma must be quoted (\"Stocks rose, then fell\")" if quoting else "quoting is off"
        return f"{what}; save the file with a spreadsheet or Python's csv.writer, or as .jsonl"
    return ("a tab inside a field needs the field in double quotes, as csv.writer(delimiter='\\t') writes it "
            "(or replace tabs in texts with spaces, or save the file as .jsonl)")


def read_local(path: str | os.PathLike, *, text_field: str | None = None, fields: tuple[str, ...] | None = None,
               template: str | None = None, joiner: str = ". ", header: bool | None = None,
               columns: tuple[str, ...] | None = None, quoting: bool | None = None) -> list[str]:
    """Texts of a ``.jsonl``/``.csv``/``.tsv`` file (rows with fields) or ``.txt``/``.raw`` file (text lines)."""
    p = checked_path(path)
    check_template(template)
    if p.suffix.lower() in (".txt", ".raw"):  # each text line is a row with one field, "text"
        rows = [{"text": r["text"].strip()} for r in read_rows(p) if is_text_line(r["text"])]
        if not (text_field or fields or template):
            return [r["text"] for r in rows]
    else:
        rows = read_rows(p, header=header, columns=tuple(columns) if columns else None, quoting=quoting)
    return [render(r, text_field, tuple(fields) if fields else None, template, joiner, f"{p.name} row {i + 1}")
            for i, r in enumerate(rows)]
