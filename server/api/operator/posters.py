"""Merchants' recruiting posters: the QR code that opens member registration (/m/join?m=<token>)."""

from __future__ import annotations

import base64

import marshmallow as ma
from flask import Response, current_app, render_template_string, request
from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, check_merchant_scope, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.services import posters
from server.services.alliance import get_settings
from server.services.catalog import get_merchant

blp = Blueprint("operator_posters", __name__, url_prefix="/api/v1", description="Recruiting posters")
blp.before_request(staff_only)

KINDS = {"svg": "image/svg+xml", "png": "image/png", "html": "text/html"}


class PosterQuerySchema(ma.Schema):
    format = ma.fields.String(load_default="svg", validate=ma.validate.OneOf(sorted(KINDS)))


PRINTABLE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ merchant.name }}</title>
<style>body{font-family:"Noto Sans CJK SC",sans-serif;text-align:center;margin:40px}h1{font-size:40px}
img{width:12cm;height:12cm}p{font-size:22px}</style></head><body>
<h1>{{ alliance }}</h1><p>扫码成为会员 · 全联盟商家享会员折扣与通用积分</p>
<img src="data:image/svg+xml;base64,{{ svg }}" alt="QR"><p>{{ merchant.name }}</p><p><small>{{ url }}</small></p>
</body></html>"""


@blp.route("/merchants/<merchant_id>/poster")
class MerchantPoster(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(PosterQuerySchema, location="query")
    @blp.response(200, description="The QR code (SVG or PNG) or a printable page")
    def get(self, args, merchant_id):
        """The merchant's recruiting poster QR code; members who register through it are recorded as its recruits."""
        actor = require_staff("merchants:read")
        check_merchant_scope(actor, merchant_id)
        base, _configured = posters.public_base_url(current_app.config.get("PUBLIC_BASE_URL"), request.host_url)
        url = posters.join_url(base, posters.poster_token(merchant_id))
        kind = args["format"]
        if kind == "html":
            svg = base64.b64encode(posters.poster_qr(url, "svg")).decode()
            body = render_template_string(
                PRINTABLE, merchant=get_merchant(merchant_id), alliance=get_settings().name, svg=svg, url=url
            )
            return Response(body, mimetype="text/html")
        return Response(posters.poster_qr(url, kind), mimetype=KINDS[kind], headers={"X-Poster-URL": url})
