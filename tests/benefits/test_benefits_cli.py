"""`alliance-server benefits import --purchase ID FILE`: a progress bar, the report, refused or received."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from server.extensions import db
from server.models import BenefitCode
from tests.benefits.helpers import csv_file, third_party
from tests.test_cli import run  # noqa: F401 - the fixture


def test_benefits_import_reports_rejected_rows_then_receives_a_clean_file(app, run, tmp_path):  # noqa: F811
    with app.app_context():
        _, _, purchase = third_party(quantity=10)
        purchase_id = purchase.id
        db.session.remove()
    expiry = (date.today() + timedelta(days=100)).isoformat()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_file([("CLI00001", "S1", expiry), ("CLI00001", "S2", expiry), ("CLI00003", "S3", "2001-01-01")])
    )
    refused = run("benefits", "import", "--purchase", purchase_id, str(bad))
    assert refused.exit_code != 0
    assert "已拒绝" in refused.output and "****0001" in refused.output and "CLI00001" not in refused.output
    good = tmp_path / "good.csv"
    good.write_bytes(csv_file([(f"CLI0000{i}", f"S{i}", expiry) for i in range(1, 6)]))
    received = run("benefits", "import", "--purchase", purchase_id, str(good))
    assert received.exit_code == 0, received.output
    assert "入库 5 条，拒绝 0 条" in received.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BenefitCode)) == 5
        db.session.remove()


def test_grant_batch_dry_runs_then_grants_from_the_command_line(app, run, tmp_path):  # noqa: F811
    from server.models import BenefitGrant
    from server.services import members
    from tests.benefits.helpers import vouchers
    from tests.builders import ACTOR, make_member, make_world

    with app.app_context():
        make_world()
        vouchers("CLI-SAVE", quantity=3)
        member, _ = make_member(with_card=False)
        phone = members.reveal_phone(ACTOR, member.id)
        db.session.remove()
    listing = tmp_path / "members.csv"
    listing.write_text(f"手机号\n{phone}\n12345\n")
    dry = run("benefits", "grant-batch", "--sku", "CLI-SAVE", str(listing))
    assert dry.exit_code == 0, dry.output
    assert "试运行：共 2 行，应发放 1，跳过 1，已发放 0" in dry.output and "不是手机号" in dry.output
    done = run("benefits", "grant-batch", "--sku", "CLI-SAVE", "--grant", str(listing))
    assert done.exit_code == 0 and "已发放 1" in done.output, done.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BenefitGrant)) == 1
        db.session.remove()
