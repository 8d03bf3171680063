"""`alliance-server regions load`, `agents evaluate` and the evaluate-agents job."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import AgentEvaluation, JobRun, Region
from server.services import agents
from server.services.alliance import ensure_alliance
from tests.builders import ACTOR, next_phone
from tests.test_cli import run  # noqa: F401 - the fixture


def test_regions_load_twice(app, run):  # noqa: F811
    first = json.loads(run("regions", "load").output)
    again = json.loads(run("regions", "load").output)
    assert first["added"] > 3000 and again == {"added": 0, "changed": 0, "merchants_matched": 0}
    with app.app_context():
        assert db.session.get(Region, "440305").name == "南山区"
        db.session.remove()


def test_agents_evaluate_and_the_job(app, run):  # noqa: F811
    with app.app_context():
        ensure_alliance()
        db.session.commit()
        agent = agents.create_agent(ACTOR, kind="person", name="代理", phone=next_phone())
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
        db.session.remove()
    result = run("agents", "evaluate", "--period", "2026-10")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["evaluated"] == 1
    assert json.loads(run("agents", "evaluate", "--period", "2026-10").output)["evaluated"] == 0
    refused = run("agents", "evaluate", "--period", "2026/10")
    assert refused.exit_code != 0 and "invalid_request" in refused.output
    job = run("jobs", "run", "--job", "evaluate-agents", "--date", "2026-12-03")
    assert job.exit_code == 0, job.output
    outcome = json.loads(job.output)
    assert (outcome["status"], outcome["period"], outcome["evaluated"]) == ("done", "2026-11", 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AgentEvaluation)) == 2
        assert db.session.scalars(select(JobRun.job)).all() == ["evaluate-agents"]
        db.session.remove()
