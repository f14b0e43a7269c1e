"""Docs that match the code: the configuration reference (docs/config.md) lists every key of the schema
with its true default; README's code layout names files that exist, in the layers' order; numbers quoted
from docs/BENCHMARKS.md and from tests are the measured ones."""

import re
from pathlib import Path

from rnnhw.spec.config import ADDED_KEYS, BIDIRECTIONAL_KEYS, SCHEMA, Config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


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


def every_default() -> dict:
    """Config().to_dict() with the keys it leaves out of unidirectional models (at their defaults) put back."""
    defaults = Config().to_dict()
    for section, key in BIDIRECTIONAL_KEYS + ADDED_KEYS:
        defaults[section][key] = getattr(getattr(Config(), section), key)
    return defaults


def test_every_key_is_documented_with_its_default():
    defaults = every_default()
    expected = {
        (section, key): toml_value(defaults[section][key]) if key in defaults[section] else None
        for section in SCHEMA for key in SCHEMA[section]
    }
    assert documented_defaults() == expected


def test_the_example_file_in_the_reference_is_the_default_configuration():
    text = (DOCS / "config.md").read_text()
    example = re.sub(r"\s*#.*", "", text.split("```toml\n", 1)[1].split("```", 1)[0]).strip()
    defaults = every_default()
    assert example == "\n\n".join(f"[{section}]\n" + "\n".join(f"{key} = {toml_value(value)}"
                                                                for key, value in values.items())
                                   for section, values in defaults.items())
    for section, key in BIDIRECTIONAL_KEYS + ADDED_KEYS:  # the only lines a unidirectional model's file
        # leaves out
        example = example.replace(f"\n{key} = {toml_value(defaults[section][key])}", "")
    assert example == Config().to_toml().strip()


def table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the rows of the first Markdown table after ``heading`` (header and rule left out)."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_code_layout_follows_the_layers_and_names_existing_files():
    rows = table_rows((ROOT / "README.md").read_text(), "## Code layout")
    folders = [re.match(r"`(\w+)/`", row[0]).group(1) for row in rows[:5]]
    assert folders == ["spec", "golden", "rtl", "sim", "rnnhw"]  # the order of tests/test_layers.py
    for folder, (_, contents) in zip(folders, rows, strict=False):
        named = re.findall(r"`([\w/]+(?:\.py|/))`", contents)
        assert named, folder
        for name in named:
            assert (ROOT / folder / name).exists(), f"README's code layout names {folder}/{name}"


def test_quoted_numbers_are_the_measured_ones():
    benchmarks = (DOCS / "BENCHMARKS.md").read_text()
    p8 = next(row for row in table_rows(benchmarks, "## Hardware") if row[:2] == ["LSTM I=12 H=32 head=9", "8"])
    luts, ffs, dsps, brams, fmax = p8[6:11]
    synthesis = table_rows((DOCS / "synthesis.md").read_text(), "## The current accelerator")
    assert synthesis[0] == ["ecp5", "LFE5UM-85F", luts, ffs, dsps, brams, f"{fmax} MHz"]
    readme = (ROOT / "README.md").read_text()
    assert f"on an ECP5 LFE5UM-85F {float(fmax):.0f} MHz, {dsps} DSP blocks (one per lane),\n  {brams} block RAMs" \
        in readme
    # README's PyTorch claim is what tests/test_float_ref.py asserts.
    assert "equals PyTorch (float64) to 1e-14" in readme
    assert "parity_error(result, expected) <= 1e-14 * scale\n" in (ROOT / "tests" / "test_float_ref.py").read_text()
