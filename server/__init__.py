"""AllianceCard central service."""

from __future__ import annotations

from flask import Flask

from server.config import INSTANCE_DIR, PROJECT_ROOT, Config, config_from_env


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    """Build the Flask app; it never creates or migrates the schema (use `alliance-server db upgrade`)."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(config or config_from_env())
    app.config.update(overrides)
    from server.request_input import init_request_input

    init_request_input(app)  # before any route is added: the bounded path converters apply to all
    app.json.ensure_ascii = False
    if not app.config["SECRET_KEY"]:
        from server.security.keys import development_secret_key

        if app.config.get("REQUIRE_EXPLICIT_KEYS"):
            raise RuntimeError("SECRET_KEY must be set in production")
        app.config["SECRET_KEY"] = development_secret_key()

    from server import models  # noqa: F401  (register tables)
    from server.agent_portal import register_agent_portal
    from server.api import register_api
    from server.api.contract import ContractPlugin
    from server.console import init_console
    from server.database import configure_engine
    from server.extensions import api, db, migrate
    from server.formatting import init_formatting
    from server.i18n import init_i18n
    from server.member import register_member_pages
    from server.observability import init_observability
    from server.ratelimit import init_rate_limits
    from server.replica import init_replica
    from server.security.keys import load_keyring

    app.extensions["alliance_keys"] = load_keyring(app)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    init_replica(app)
    init_observability(app)  # before the other hooks: their log lines carry the request id
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    api.init_app(app, spec_kwargs={"marshmallow_plugin": ContractPlugin()})
    init_i18n(app)
    init_formatting(app)
    init_rate_limits(app)
    register_api(app, api)
    register_member_pages(app)
    register_agent_portal(app)
    init_console(app)
    if app.config.get("PROXY_FIX_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if app.config.get("JOBS_SCHEDULER"):
        from server.services.jobs import start_scheduler

        app.extensions["alliance_scheduler"] = start_scheduler(app, app.config["JOBS_SCHEDULER_INTERVAL_SECONDS"])
    return app
