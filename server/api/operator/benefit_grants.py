"""Benefit distribution (权益发放): campaigns, the grants of every channel, batch grants (docs/benefits.md)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.benefit_grant_schemas import (
    MAX_BATCH_BYTES,
    BenefitBatchFileSchema,
    BenefitBatchQuerySchema,
    BenefitBatchReportSchema,
    BenefitCampaignCreateSchema,
    BenefitCampaignEnvelopeSchema,
    BenefitCampaignSchema,
    BenefitCampaignUpdateSchema,
    BenefitGrantQuerySchema,
    BenefitGrantSchema,
)
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.services import benefit_grants

blp = Blueprint(
    "operator_benefit_grants", __name__, url_prefix="/api/v1", description="Benefit campaigns, grants, batch grants"
)
blp.before_request(staff_only)


@blp.url_value_preprocessor
def _allow_member_lists(endpoint, values) -> None:
    """A batch's list of members may be larger than other requests (before any before_request reads the form)."""
    if endpoint == "operator_benefit_grants.BenefitGrantBatches":
        request.max_content_length = MAX_BATCH_BYTES


@blp.route("/benefit-campaigns")
class BenefitCampaigns(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BenefitCampaignSchema(many=True))
    def get(self):
        """Every campaign (活动), newest first, with what is left of its budget."""
        require_staff("benefits:read")
        return benefit_grants.list_campaigns()

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(BenefitCampaignCreateSchema)
    @blp.response(201, BenefitCampaignEnvelopeSchema)
    def post(self, args):
        """Add a campaign (a draft until activated): a SKU, a time window, the total and per-member budgets and
        who may claim (lowest level rank, region, recruiting agent, a sale within N days); audit-logged."""
        actor = require_staff("benefits:write")
        return idempotent(actor, lambda: {"campaign": benefit_grants.create_campaign(actor, **args)})


@blp.route("/benefit-campaigns/<campaign_id>")
class BenefitCampaign(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitCampaignUpdateSchema)
    @blp.response(200, BenefitCampaignEnvelopeSchema)
    def patch(self, args, campaign_id):
        """Activate a draft campaign (members may claim it in its window) or close a campaign for good."""
        actor = require_staff("benefits:write")
        return {"campaign": benefit_grants.set_campaign_status(actor, campaign_id, args["status"])}


@blp.route("/benefit-grants")
class BenefitGrants(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitGrantQuerySchema, location="query")
    @blp.response(200, BenefitGrantSchema(many=True))
    def get(self, args):
        """The latest 200 grants of benefits to members, by member and channel (codes are never listed)."""
        require_staff("benefits:read")
        return benefit_grants.list_grants(args.get("member_id"), args.get("channel"))


@blp.route("/benefit-grant-batches")
class BenefitGrantBatches(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BenefitBatchQuerySchema, location="query")
    @blp.arguments(BenefitBatchFileSchema, location="files")
    @blp.response(201, BenefitBatchReportSchema)
    def post(self, query, files):
        """Grant one code of a SKU to each member listed (phones, CSV or XLSX), or with dry_run (the default)
        only report what would be granted and skipped, row by row. One transaction: a batch the stock cannot
        cover grants nothing. The same file for the same SKU again answers the first batch's report."""
        actor = require_staff("benefits:write")
        upload = files["file"]
        return benefit_grants.grant_batch(
            actor, query["sku_id"], upload.filename or "", upload.read(), dry_run=query["dry_run"]
        )
