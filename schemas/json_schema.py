"""The record contract as JSON Schema (draft 2020-12), exactly as strict as intake.

A township's own system that validates its records against ``schemas/json/`` gets the verdict
intake gives: the parity test checks it with ajv, an independent validator, on a corpus of
real, malformed and random records.  What intake does in code, the schema says with the
patterns of ``schemas.patterns``:

* text is trimmed as Python's ``str.strip`` trims it, then must hold no control character and
  no unpaired surrogate, and its length is counted on what remains; a blank optional value is
  absent;
* a township and a reference number need one character that is neither a space nor invisible;
* dates are ``YYYY-MM-DD`` (or ``YYYY/MM/DD``) from 2000 on, real calendar days, optionally
  with a time and an offset;
* numbers are JSON numbers, yes/no JSON booleans, names a JSON list (the sheet reader,
  ``web.sheets``, turns what clerks type into these).

Two rules no schema can state: the record's size (at most 64 KiB of UTF-8, said in the
description) and that nothing in it is dated after the day it is posted.
"""

from __future__ import annotations

from typing import Any

from schemas import patterns
from schemas.record import (
    CURRENT_VERSION,
    FIELDS,
    IDENTITY_FIELDS,
    MAX_RECORD_BYTES,
    NAME_MAX_CHARS,
    V1_RENAMES,
    Field,
)

BLANK = {"type": "string", "pattern": patterns.BLANK}
NULL = {"type": "null"}


def field_schema(field: Field, version: int) -> dict[str, Any]:
    """The schema of one field's value."""
    if field.name == "schema_version":  # absent or null: the current version
        return {"description": field.doc, "anyOf": [{"const": version}, NULL]}
    s: dict[str, Any]
    kind = field.kind
    if kind in ("str", "text"):
        identity = field.name in IDENTITY_FIELDS
        s = {"type": "string", "pattern": patterns.text(field.max_len, field.required, identity)}
    elif kind == "int":
        s = {"type": "integer"}
    elif kind == "number":
        s = {"type": "number"}
    elif kind == "bool":
        s = {"type": "boolean"}
    elif kind == "date":
        s = {"type": "string", "pattern": patterns.DATE}
    elif kind == "datetime":
        s = {"type": "string", "pattern": patterns.DATE_TIME}
    elif kind == "enum":
        s = {"type": "string", "enum": list(field.choices)}
    elif kind == "list":
        name = {"type": "string", "pattern": patterns.text(NAME_MAX_CHARS, False)}
        s = {"type": "array", "items": name, "maxItems": field.max_len}
    else:
        raise ValueError(f"no schema for kind {kind!r}")
    if field.minimum is not None:
        s["minimum"] = field.minimum if kind == "number" else int(field.minimum)
    if field.maximum is not None:
        s["maximum"] = field.maximum if kind == "number" else int(field.maximum)
    if not field.required:  # absent: null, or blank where the value is text
        blank = [BLANK] if kind in ("str", "enum", "date", "datetime") else []
        s = {"anyOf": [s, NULL, *blank]}
    return {"description": field.doc, **s}


def json_schema(version: int = CURRENT_VERSION) -> dict[str, Any]:
    """The published JSON Schema of one record version."""
    if version == 2:
        props = {f.name: field_schema(f, 2) for f in FIELDS}
        required = [f.name for f in FIELDS if f.required]
    elif version == 1:
        back = {v: k for k, v in V1_RENAMES.items()}  # v1 renamed these; kept the rest
        props = {back.get(f.name, f.name): field_schema(f, 1) for f in FIELDS}
        props["schema_version"] = {"description": "1, or absent.", "anyOf": [{"const": 1}, NULL]}
        required = [back.get(f.name, f.name) for f in FIELDS if f.required]
    else:
        raise ValueError(f"no record version {version}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"dispute-ews/screening-record.v{version}.schema.json",
        "title": f"Screening record (矛盾纠纷排查记录), version {version}",
        "description": (
            "One dispute screening record posted by a township. "
            f"Encoded as UTF-8 JSON, at most {MAX_RECORD_BYTES} bytes; "
            "no date in it may be after the day it is posted."
        ),
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
