"""REST API (flask-smorest): thin views that decode input, authorize, call one service, encode output."""

from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path


def register_api(app: Flask, api: Api) -> None:
    """Register every API blueprint and the locally served Swagger UI assets."""
    from server.api import partner, terminal, till_cards
    from server.api.fields import document_dict_size
    from server.api.operator import (
        agents,
        alliance,
        benefit_analytics,
        benefit_grants,
        benefit_ops,
        benefits,
        brushing,
        card_batches,
        cards,
        commissions,
        finance,
        ledger,
        levels,
        members,
        merchants,
        payouts,
        posters,
        staff,
        terminals,
        till_gifts,
        webhooks,
    )
    from server.api.webhook_schemas import document_events

    api.ma_plugin.converter.add_attribute_function(document_dict_size)
    for module in (
        terminal,
        till_cards,
        merchants,
        terminals,
        levels,
        members,
        cards,
        card_batches,
        ledger,
        staff,
        alliance,
        posters,
        agents,
        brushing,
        finance,
        benefit_ops,
        benefits,
        commissions,
        payouts,
        webhooks,
        benefit_grants,
        till_gifts,
        benefit_analytics,
        partner,
    ):
        api.register_blueprint(module.blp)
    document_events(api.spec)

    assets = Blueprint("swagger_ui_assets", __name__)

    @assets.route("/api/v1/docs/static/<path:filename>")
    def swagger_asset(filename):
        return send_from_directory(swagger_ui_path, filename)

    app.register_blueprint(assets)
