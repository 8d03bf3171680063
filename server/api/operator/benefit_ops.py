"""Benefit stock alerts and supplier reconciliation (the operator's view of the 权益 stock over time)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.benefit_ops_schemas import (
    BenefitAlertQuerySchema,
    BenefitAlertSchema,
    SupplierReconciliationQuerySchema,
    SupplierReconciliationSchema,
)
from server.api.blueprint import Blueprint
from server.services import benefit_alerts, supplier_reconciliation

blp = Blueprint(
    "operator_benefit_ops", __name__, url_prefix="/api/v1", description="Benefit stock alerts, supplier reconciliation"
)
blp.before_request(staff_only)


@blp.route("/benefit-alerts")
class BenefitAlerts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitAlertQuerySchema, location="query")
    @blp.response(200, BenefitAlertSchema(many=True))
    def get(self, args):
        """Benefit stock alerts, newest first: low stock, short for the scheduled demand, near expiry, failing
        suppliers (raised by the jobs, one per subject and period)."""
        require_staff("benefits:read")
        return benefit_alerts.list_alerts(status=args.get("status"), kind=args.get("kind"))


@blp.route("/supplier-reconciliations")
class SupplierReconciliations(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(SupplierReconciliationQuerySchema, location="query")
    @blp.response(200, SupplierReconciliationSchema)
    def get(self, args):
        """A supplier's month: bought, received, issued, redeemed, void, expired, failed at redemption, cost
        and amount due per SKU and in total, and the differences found (like the settlement reconciliation)."""
        require_staff("benefits:read")
        report = supplier_reconciliation.supplier_month(args["supplier"], args["month"])
        report["differences"] = [
            {"text": supplier_reconciliation.difference_text(d), "template": d.template, "values": d.values}
            for d in report["differences"]
        ]
        return report
