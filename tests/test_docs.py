"""The configuration reference (docs/config.md) lists every key of the schema with its true default."""

import re
from pathlib import Path

from rnnhw.spec.config import SCHEMA, Config

DOCS = Path(__file__).resolve().parent.parent / "docs"


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def documented_defaults() -> dict[tuple[str, str], str]:
    """(section, key) -> the default column of docs/config.md's tables."""
    rows, section = {}, None
    for line in (DOCS / "config.md").read_text().splitlines():
        if heading := re.match(r"## `\[(\w+)\]`", line):
            section = heading.group(1)
        elif section and (row := re.match(r"\| `(\w+)` \| (?:`([^`]*)`|unset) \|", line)):
            rows[(section, row.group(1))] = row.group(2)  # None: an optional key, unset by default
    return rows


def test_every_key_is_documented_with_its_default():
    defaults = Config().to_dict()
    expected = {
        (section, key): toml_value(defaults[section][key]) if key in defaults[section] else None
        for section in SCHEMA for key in SCHEMA[section]
    }
    assert documented_defaults() == expected


def test_the_example_file_in_the_reference_is_the_default_configuration():
    text = (DOCS / "config.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    assert re.sub(r"\s*#.*", "", example).strip() == Config().to_toml().strip()
