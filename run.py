"""One command to try AllianceCard: migrate the embedded SQLite database, seed the demo, serve it."""

from __future__ import annotations

import json
import os

from flask_babel import gettext
from flask_migrate import upgrade

from server import create_app
from server.cli import print_demo_credentials
from server.config import INSTANCE_DIR
from server.services.demo import seed_demo
from server.services.demo_agents import DEMO_AGENTS

CREDENTIALS_FILE = INSTANCE_DIR / "demo-credentials.json"


def prepare(app) -> dict | None:
    """Upgrade the schema to head and seed the demo once; return the demo credentials if known."""
    with app.app_context():
        upgrade()
        created = seed_demo()
    if created is not None:
        CREDENTIALS_FILE.write_text(json.dumps(created.as_dict(), ensure_ascii=False, indent=2))
        CREDENTIALS_FILE.chmod(0o600)
    return json.loads(CREDENTIALS_FILE.read_text()) if CREDENTIALS_FILE.exists() else None


def main() -> None:
    """Prepare the database, print how to use the demo, and start the development server."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    app = create_app()
    creds = prepare(app)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    base = f"http://{host}:{port}"
    with app.app_context():  # the words in the operator's language (Chinese; ALLIANCE_LANG=en for English)
        print(gettext("\nAllianceCard demo on %(database)s", database=app.config["SQLALCHEMY_DATABASE_URI"]))
        print(gettext("  Console:   %(url)s  (sign in as the operator admin below)", url=f"{base}/console/"))
        print(gettext("  API docs:  %(url)s", url=f"{base}/api/v1/docs"))
        print(gettext("  OpenAPI:   %(url)s", url=f"{base}/api/v1/openapi.json"))
        print(
            gettext(
                "  Members:   %(url)s  (register: %(join)s; login codes: log and `alliance-server sms outbox`)",
                url=f"{base}/m/",
                join=f"{base}/m/join",
            )
        )
        print(
            gettext(
                "  Agents:    %(url)s  (demo city agent: phone %(phone)s; sign-in codes in the log, as for members)",
                url=f"{base}/a/",
                phone=DEMO_AGENTS["city"]["phone"],
            )
        )
        if creds:
            print_demo_credentials(creds)
            token = creds["merchants"][0]["terminal_token"]
            card = creds["members"][0]["card_no"]
            print(
                gettext("\nTry it:")
                + f"\n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
                f'-d \'{{"code": "{card}"}}\' {base}/api/v1/identify\n'
            )
        else:
            print(
                gettext("  (the database was seeded elsewhere; no demo credentials in %(path)s)", path=CREDENTIALS_FILE)
            )
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
