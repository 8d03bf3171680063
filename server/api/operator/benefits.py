"""Benefits (权益): the catalogue of SKUs, suppliers, purchases, imports of 卡密 and the stock (docs/benefits.md)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.benefit_schemas import (
    BenefitImportEnvelopeSchema,
    BenefitImportFileSchema,
    BenefitImportQuerySchema,
    BenefitPurchaseCreateSchema,
    BenefitPurchaseEnvelopeSchema,
    BenefitSkuCreateSchema,
    BenefitSkuEnvelopeSchema,
    BenefitSkuQuerySchema,
    BenefitSkuSchema,
    BenefitStockRowSchema,
    SupplierCreateSchema,
    SupplierEnvelopeSchema,
    SupplierSchema,
)
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.services import benefit_catalog, benefit_imports, benefit_stock

blp = Blueprint("operator_benefits", __name__, url_prefix="/api/v1", description="Benefits (权益): catalogue and stock")
blp.before_request(staff_only)


@blp.url_value_preprocessor
def _allow_import_files(endpoint, values) -> None:
    """An import's file may be larger than other requests (runs before any before_request reads the form)."""
    if endpoint == "operator_benefits.BenefitImports":
        request.max_content_length = benefit_imports.MAX_UPLOAD_BYTES


@blp.route("/benefit-skus")
class BenefitSkus(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitSkuQuerySchema, location="query")
    @blp.response(200, BenefitSkuSchema(many=True))
    def get(self, args):
        """Every benefit product with its agent prices and who accepts it, newest first."""
        require_staff("benefits:read")
        return benefit_catalog.list_skus(args.get("status"))

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(BenefitSkuCreateSchema)
    @blp.response(201, BenefitSkuEnvelopeSchema)
    def post(self, args):
        """Add a benefit product: a third party's 卡密 or an alliance voucher with its terms; audit-logged."""
        actor = require_staff("benefits:write")
        return idempotent(
            actor, lambda: {"sku": benefit_catalog.sku_details(benefit_catalog.create_sku(actor, **args))}
        )


@blp.route("/suppliers")
class Suppliers(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, SupplierSchema(many=True))
    def get(self):
        """Every supplier of 卡密 by name."""
        require_staff("benefits:read")
        return benefit_catalog.list_suppliers()

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(SupplierCreateSchema)
    @blp.response(201, SupplierEnvelopeSchema)
    def post(self, args):
        """Add a supplier with contacts and terms; audit-logged."""
        actor = require_staff("benefits:write")
        return idempotent(actor, lambda: {"supplier": benefit_catalog.create_supplier(actor, **args)})


@blp.route("/benefit-purchases")
class BenefitPurchases(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(BenefitPurchaseCreateSchema)
    @blp.response(201, BenefitPurchaseEnvelopeSchema)
    def post(self, args):
        """Record a purchase batch; its codes come by an import — or, for generated vouchers, are made now."""
        actor = require_staff("benefits:write")
        return idempotent(actor, lambda: {"purchase": benefit_imports.order_purchase(actor, **args)})


@blp.route("/benefit-purchases/<purchase_id>/imports")
class BenefitImports(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitImportQuerySchema, location="query")
    @blp.arguments(BenefitImportFileSchema, location="files")
    @blp.response(201, BenefitImportEnvelopeSchema)
    def post(self, query, files, purchase_id):
        """Import a file of 卡密 (CSV or XLSX: code, secret, optional expiry) into a purchase.

        Every row is checked; the answer's report lists the rejected rows (bad format, past expiry, duplicate
        in the file or in stock). All-or-nothing (the default) receives nothing if any row is rejected.
        Sending the same file again answers the same import (no Idempotency-Key needed: the file is the key).
        """
        actor = require_staff("benefits:write")
        upload = files["file"]
        data = upload.read()
        job = benefit_imports.import_file(
            actor, purchase_id, data, upload.filename or "", all_or_nothing=query["all_or_nothing"]
        )
        return {"benefit_import": job}


@blp.route("/benefit-stock")
class BenefitStock(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BenefitStockRowSchema(many=True))
    def get(self):
        """How many codes each benefit has, by status and expiry month (codes themselves are never listed)."""
        require_staff("benefits:read")
        return benefit_stock.stock_counts()
