"""How the console writes rates: integer arithmetic, no trailing zeros, 折 in Chinese."""

from __future__ import annotations

from server.console.display import percent
from server.formatting import discount


def test_percent_of_basis_points():
    assert [percent(bp) for bp in (250, 100, 10_000, 0, 1, 1_234)] == ["2.5%", "1%", "100%", "0%", "0.01%", "12.34%"]
    assert percent(None) == "–"


def test_what_a_level_pays_in_chinese_and_english(app):
    with app.test_request_context("/"):
        assert [discount(bp) for bp in (9_500, 8_000, 9_550, 9_999)] == ["9.5折", "8折", "9.55折", "9.999折"]
        assert discount(10_000) == "无折扣"
    with app.test_request_context("/?lang=en"):
        assert [discount(bp) for bp in (9_500, 8_850, 10_000)] == ["5% off", "11.5% off", "No discount"]


def test_every_audited_action_reads_as_a_sentence():
    """Each action the services write to the audit log has its own sentence (not the raw action code)."""
    import re
    from pathlib import Path

    from server.console.audit_text import SENTENCES
    from server.domain.statuses import BrushingFlagStatus, ComplaintStatus

    services = Path(__file__).resolve().parents[2] / "server" / "services"
    source = "\n".join(path.read_text() for path in services.rglob("*.py"))
    literal = set(re.findall(r'audit\(\s*[^,()]+,\s*"([a-z_]+\.[a-z_]+)"', source))
    reviewed = {f"brushing_flag.{status}" for status in BrushingFlagStatus if status != BrushingFlagStatus.OPEN}
    answered = {f"complaint.{status}" for status in ComplaintStatus if status != ComplaintStatus.OPEN}
    assert {"card.bind", "agent.create"} <= literal
    paid = {"settlement.paid", "settlement.unpaid"}  # chosen by a conditional expression
    assert sorted((literal | reviewed | answered | paid) - SENTENCES.keys()) == []
