"""Writing the record contract as JSON Schema files a township's own system can validate against."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.json_schema import json_schema

JSON_DIR = Path(__file__).resolve().parent / "json"
VERSIONS = (1, 2)


def schema_text(version: int) -> str:
    """The schema as JSON text; its patterns' unpaired surrogates (which no record may hold)
    are written as escapes, since UTF-8 cannot carry them."""
    text = json.dumps(json_schema(version), ensure_ascii=False, indent=2) + "\n"
    return "".join(f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c for c in text)


def schema_path(version: int, folder: Path = JSON_DIR) -> Path:
    return folder / f"screening-record.v{version}.schema.json"


def write_json_schemas(folder: Path | None = None) -> list[Path]:
    folder = folder or JSON_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for version in VERSIONS:
        path = schema_path(version, folder)
        path.write_text(schema_text(version), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_json_schemas():
        print(p)
