"""GB/T 2260 codes: levels and containment by prefix."""

from __future__ import annotations

from server.domain.regions import RegionLevel, contains, full_code, is_region_code, region_level


def test_levels_and_padding():
    assert full_code("44") == "440000" and full_code("4403") == "440300"
    assert region_level("440000") == RegionLevel.PROVINCE
    assert region_level("440300") == RegionLevel.CITY
    assert region_level("440305") == RegionLevel.COUNTY
    assert region_level("429004") == RegionLevel.COUNTY  # 仙桃: governed directly by 湖北


def test_containment():
    assert contains("440000", "440305") and contains("440300", "440305") and contains("440305", "440305")
    assert not contains("440300", "440105") and not contains("440305", "440300")


def test_code_shape():
    assert is_region_code("110101")
    assert not is_region_code("000000") and not is_region_code("11010") and not is_region_code("１１０１０１")
