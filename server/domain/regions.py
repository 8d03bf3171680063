"""China's administrative divisions by GB/T 2260 code: province → city → county (pure rules).

A code has six digits: two for the province, two for the city (prefecture), two for the county. A
province is ``PP0000``, a city ``PPCC00``; everything else is county level (a district, a county, a
county-level city, also one governed directly by its province or a municipality). Whether a region lies
inside another is a matter of the code's prefix.
"""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    """The administrative level of a region."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


def is_region_code(code: str) -> bool:
    """True for six digits whose province part is not 00."""
    return len(code) == 6 and code.isascii() and code.isdigit() and code[:2] != "00"


def full_code(short: str) -> str:
    """A 2-, 4- or 6-digit code padded to the six digits of GB/T 2260 ("44" → "440000", "4403" → "440300")."""
    return short.ljust(6, "0")


def region_level(code: str) -> RegionLevel:
    """The level a six-digit code names."""
    if code[2:] == "0000":
        return RegionLevel.PROVINCE
    if code[4:] == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def significant_prefix(code: str) -> str:
    """The part of the code that regions inside it share ("440000" → "44", "440300" → "4403")."""
    return {RegionLevel.PROVINCE: code[:2], RegionLevel.CITY: code[:4], RegionLevel.COUNTY: code}[region_level(code)]


def contains(outer: str, inner: str) -> bool:
    """True when region ``inner`` is ``outer`` or lies inside it."""
    return inner.startswith(significant_prefix(outer))
