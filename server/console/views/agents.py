"""The agent network (代理): agents, their hierarchy and territories, agent levels with a preview of a rule
change, evaluation runs and their results, early-warning alerts and the network's policy.

Admins and agent managers change things (``agents:write``); finance reads (``agents:read``).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.agent_forms import (
    KIND_LABELS,
    AgentForm,
    AgentLevelForm,
    AgentPolicyForm,
    AgentStatusForm,
    EvaluationRunForm,
    parse_territories,
    territories_text,
)
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message, percent
from server.console.forms import choice
from server.console.once import new_key, run_once
from server.console.paging import all_rows, choice_arg, page_from_request, report_invalid_filter
from server.domain.agent_levels import Condition, LevelRule
from server.domain.agent_network import (
    ACTIVATED_CARDS,
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    ACTIVE_SUBORDINATES,
    ALLOWED_STATUS_CHANGES,
    HEALTH_SCORE,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
)
from server.domain.errors import DomainError
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import AgentAlertKind, AgentEvaluationOutcome, AgentStatus
from server.exports import Column, table_download
from server.services import agent_alerts, agent_badges, agent_console, agent_evaluation, agents, commissions

blp = Blueprint("agents", __name__)

READ, WRITE = "agents:read", "agents:write"
GROUP = _l("Agent network")  # the menu's 代理 group
navigation.add(
    navigation.NavItem(
        "console.agents.index",
        _l("Agent list"),
        "diagram-3",
        READ,
        order=35,
        operators_only=True,
        group=GROUP,
        pages=(
            "console.agents.index",
            "console.agents.create",
            "console.agents.detail",
            "console.agents.edit",
            "console.agents.status",
            "console.agents.tree",
            "console.agents.territories",
        ),
    )
)
navigation.add(
    navigation.NavItem(
        "console.agents.levels",
        _l("Agent levels"),
        "bar-chart-steps",
        READ,
        order=36,
        operators_only=True,
        group=GROUP,
        pages=("console.agents.levels", "console.agents.edit_level"),
    )
)
navigation.add(
    navigation.NavItem(
        "console.agents.evaluations",
        _l("Agent evaluations"),
        "clipboard-check",
        READ,
        order=37,
        operators_only=True,
        group=GROUP,
        pages=("console.agents.evaluations", "console.agents.run_evaluation", "console.agents.period"),
    )
)
navigation.add(
    navigation.NavItem(
        "console.agents.alerts",
        _l("Agent alerts"),
        "exclamation-triangle",
        READ,
        order=38,
        operators_only=True,
        group=GROUP,
        pages=("console.agents.alerts", "console.agents.acknowledge"),
    )
)
navigation.add(
    navigation.NavItem(
        "console.agents.policy",
        _l("Agent policy"),
        "shield-check",
        READ,
        order=39,
        operators_only=True,
        group=GROUP,
        pages=("console.agents.policy",),
    )
)

STATUS_LABELS = {
    AgentStatus.APPLIED: _l("Applied"),
    AgentStatus.ACTIVE: _l("Active"),
    AgentStatus.SUSPENDED: _l("Suspended"),
    AgentStatus.TERMINATED: _l("Terminated"),
}
STATUS_COLORS = {"applied": "info", "active": "success", "suspended": "warning", "terminated": "secondary"}
OUTCOME_LABELS = {
    AgentEvaluationOutcome.UPGRADED: _l("Upgraded"),
    AgentEvaluationOutcome.DOWNGRADED: _l("Downgraded"),
    AgentEvaluationOutcome.KEPT: _l("Kept"),
}
ALERT_LABELS = {AgentAlertKind.FIGURE_DROP: _l("Figure dropped"), AgentAlertKind.HEALTH_LOW: _l("Health score low")}
METRIC_LABELS = {
    SERVICED_GMV_FEN: _l("Serviced consumption"),
    ACTIVE_RECRUITED_MEMBERS: _l("Recruited members who consumed"),
    ACTIVATED_CARDS: _l("Activated cards"),
    ACTIVE_DAYS: _l("Active days"),
    MERCHANTS_WITH_SALES: _l("Merchants with sales"),
    ACTIVE_SUBORDINATES: _l("Active direct subordinates"),
    HEALTH_SCORE: _l("Health score"),
}
REASON_LABELS = {
    "upgraded": _l("Qualified for the next level"),
    "fast_track": _l("Fast track: exceeded the next level for consecutive periods"),
    "upgrade_blocked_by_health": _l("Upgrade blocked: health score under the floor"),
    "lowest_level": _l("Already at the lowest level"),
    "protected_after_upgrade": _l("Protected after a recent upgrade"),
    "grace_period": _l("Below the level, within the grace period"),
    "downgraded": _l("Below the level after the grace period"),
    "conditions_met": _l("The level's conditions are met"),
}
# The form field of each metric in the level editor (money in yuan; the rest are counts)
METRIC_FIELDS = {
    SERVICED_GMV_FEN: "serviced_gmv",
    ACTIVE_RECRUITED_MEMBERS: "active_recruited_members",
    ACTIVATED_CARDS: "activated_cards",
    ACTIVE_DAYS: "active_days",
    MERCHANTS_WITH_SALES: "merchants_with_sales",
    ACTIVE_SUBORDINATES: "active_subordinates",
    HEALTH_SCORE: "health_score",
}


def metric_value(metric: str, value) -> str:
    """A figure as people read it: money in yuan, the rest as counts."""
    if metric == SERVICED_GMV_FEN:
        return f"¥{int(value or 0) / 100:,.2f}"
    return str(value)


def reason_text(reason) -> str:
    """An evaluation's reason in the user's language (the qualified rank is shown on its own)."""
    if isinstance(reason, dict):
        return ""
    return str(REASON_LABELS.get(reason, reason))


@blp.context_processor
def labels():
    """The agent pages' label tables and formatters."""
    return {
        "agent_status_labels": STATUS_LABELS,
        "agent_status_colors": STATUS_COLORS,
        "outcome_labels": OUTCOME_LABELS,
        "alert_labels": ALERT_LABELS,
        "metric_labels": METRIC_LABELS,
        "kind_labels": KIND_LABELS,
        "metric_value": metric_value,
        "reason_text": reason_text,
        "may_write": can(WRITE),
    }


# --- agents --------------------------------------------------------------------------------------------


def _list_filters(levels: dict) -> dict:
    filters = {
        "status": choice_arg("status", tuple(AgentStatus), _("Status")),
        "level_id": choice_arg("level", tuple(levels), _("Level")),
        "region_code": None,
    }
    region = request.args.get("region", "").strip()
    if region:
        if region.isdigit() and len(region) == 6 and agent_console.region_names([region]):
            filters["region_code"] = region
        else:
            report_invalid_filter(_("Region"), region)
    return filters


@blp.route("/agents", methods=["GET", "POST"])
@permission_required(READ)
def index():
    """Agents filtered by status, level and region; a search by name or phone (POSTed: no phone in URLs)."""
    levels = agent_console.level_names()
    filters = _list_filters(levels)
    text = request.form.get("q", "").strip() if request.method == "POST" else ""
    if text:
        try:
            filters["phone"] = normalize_mobile(text)
        except DomainError:
            filters["q"] = text
    page = page_from_request()
    rows = agent_console.list_agents(filters, page)
    return render_template(
        "console/agents/index.html",
        agents=rows,
        page=page,
        filters=filters,
        q=text,
        region=filters["region_code"] or "",
        levels=levels,
        region_names=agent_console.region_names([filters["region_code"]]),
        statuses=tuple(AgentStatus),
    )


AGENT_COLUMNS = (
    Column("name", _l("Name")),
    Column("kind", _l("Kind")),
    Column("phone_masked", _l("Mobile phone")),
    Column("level", _l("Level")),
    Column("status", _l("Status")),
    Column("territories", _l("Territories")),
    Column("upper", _l("Upper agent")),
    Column("contract_start", _l("Contract from"), "date"),
    Column("contract_end", _l("Contract until"), "date"),
    Column("created_at", _l("Recorded"), "time"),
)


@blp.route("/agents.<any(csv, xlsx):fmt>")
@permission_required(READ)
def export(fmt):
    """The filtered agents as one table (CSV or XLSX), phones masked."""
    levels, names = agent_console.level_names(), agent_console.agent_names()
    filters = _list_filters(levels)
    rows = all_rows(lambda page: agent_console.list_agents(filters, page), 1_000)
    lines = (
        {
            "name": agent.name,
            "kind": str(KIND_LABELS.get(agent.kind, agent.kind)),
            "phone_masked": agent.phone_masked,
            "level": levels.get(agent.level_id, ""),
            "status": str(STATUS_LABELS.get(agent.status, agent.status)),
            "territories": territories_text(agent.territories),
            "upper": names.get(agent.upper_agent_id, ""),
            "contract_start": agent.contract_start,
            "contract_end": agent.contract_end,
            "created_at": agent.created_at,
        }
        for agent in rows
    )
    return table_download(AGENT_COLUMNS, lines, fmt, "agents")


def _agent_form(form: AgentForm, agent=None) -> AgentForm:
    names = agent_console.agent_names()
    if agent is not None:
        names.pop(agent.id, None)
    form.upper_agent_id.choices = [choice("", _("None (a top agent)"))] + [
        choice(agent_id, name) for agent_id, name in names.items()
    ]
    return form


def _agent_fields(form: AgentForm) -> dict:
    return {
        "kind": form.kind.data,
        "name": form.name.data,
        "contact_name": form.contact_name.data,
        "contract_start": form.contract_start.data,
        "contract_end": form.contract_end.data,
        "territories": parse_territories(form.territory_codes.data),
    }


@blp.route("/agents/new", methods=["GET", "POST"])
@permission_required(WRITE)
def create():
    """Record an agent's application (it starts applied, at the lowest level; joining costs nothing)."""
    form = _agent_form(AgentForm())
    del form.upper_reason
    once = request.form.get("once") or new_key()
    if form.validate_on_submit():
        if not form.phone.data:
            form.phone.errors.append(_("Enter the agent's mobile phone number."))
        else:
            fields = _agent_fields(form) | {
                "phone": form.phone.data,
                "upper_agent_id": form.upper_agent_id.data or None,
            }
            try:
                done = run_once(once, lambda: {"id": agents.create_agent(current_actor().key, **fields).id})
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Agent %(name)s recorded.", name=form.name.data), "success")
                return redirect(url_for(".detail", agent_id=done.body["id"]))
    status = 422 if form.errors else 200
    return render_template("console/agents/form.html", form=form, once=once, agent=None), status


@blp.route("/agents/<agent_id>")
@permission_required(READ)
def detail(agent_id):
    """An agent: status and why, contract, territories, upper agent and its history, merchants, evaluations."""
    agent = agents.get_agent(agent_id)
    territories = agents.territories_of(agent.id)
    history = agents.upper_history(agent.id)
    status_form = AgentStatusForm(formdata=None)
    status_form.status.choices = [
        choice(code, STATUS_LABELS[code]) for code in sorted(ALLOWED_STATUS_CHANGES[AgentStatus(agent.status)])
    ]
    return render_template(
        "console/agents/detail.html",
        agent=agent,
        level=agents.get_level(agent.level_id),
        upper=agents.get_agent(agent.upper_agent_id) if agent.upper_agent_id else None,
        territories=territories,
        region_paths={t.region_code: agent_console.region_path(t.region_code) for t in territories},
        history=history,
        agent_names=agent_console.agent_names(),
        subordinates=agent_console.subordinates(agent.id),
        merchants=agent_console.serviced_merchants(agent.id),
        recruited=agent_console.recruited_members_count(agent.id),
        evaluations=agent_evaluation.evaluations_of(agent.id)[:12],
        level_names=agent_console.level_names(),
        alerts=agent_console.alerts_of(agent.id),
        badges=agent_badges.badges_of(agent.id),
        balance=commissions.agent_balance(agent.id),
        status_form=status_form,
    )


@blp.route("/agents/<agent_id>/edit", methods=["GET", "POST"])
@permission_required(WRITE)
def edit(agent_id):
    """Change an agent's details, contract, territories or upper agent (the change of upper agent is kept)."""
    agent = agents.get_agent(agent_id)
    form = _agent_form(AgentForm(obj=agent), agent)
    if request.method == "GET":
        form.territory_codes.data = territories_text(agents.territories_of(agent.id))
        form.upper_agent_id.data = agent.upper_agent_id or ""
        form.phone.data = ""
    if form.validate_on_submit():
        fields = _agent_fields(form)
        upper = form.upper_agent_id.data or None
        if upper != agent.upper_agent_id:
            fields |= {"upper_agent_id": upper, "upper_reason": form.upper_reason.data}
        if form.phone.data:
            fields["phone"] = form.phone.data
        try:
            agents.update_agent(current_actor().key, agent.id, **fields)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", agent_id=agent.id))
    status = 422 if form.errors else 200
    return render_template("console/agents/form.html", form=form, once=None, agent=agent), status


@blp.route("/agents/<agent_id>/status", methods=["POST"])
@permission_required(WRITE)
def status(agent_id):
    """Change an agent's status: the chosen status, then a confirmation with the reason (audited)."""
    agent = agents.get_agent(agent_id)
    new = request.form.get("status", "")
    if new not in ALLOWED_STATUS_CHANGES[AgentStatus(agent.status)]:
        flash(_("This status change is not allowed."), "danger")
        return redirect(url_for(".detail", agent_id=agent.id))
    form = confirm_form()
    if request.form.get("confirmed") != "yes" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Change the status of agent %(name)s", name=agent.name),
            subject=f"{agent.name}: {STATUS_LABELS[agent.status]} → {STATUS_LABELS[new]}",
            warning=_("Terminated agents cannot be reinstated.")
            if new == AgentStatus.TERMINATED
            else _("The agent is told of the change."),
            button=_("Change status"),
            action_url=url_for(".status", agent_id=agent.id),
            back_url=url_for(".detail", agent_id=agent.id),
            carried={"status": new},
        )
        return confirm_page(confirmation, form if request.form.get("confirmed") == "yes" else None)
    try:
        run_once(
            form.once.data,
            lambda: {
                "id": agents.update_agent(current_actor().key, agent.id, status=new, status_reason=form.reason.data).id
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Agent %(name)s is now %(status)s.", name=agent.name, status=STATUS_LABELS[new]), "success")
    return redirect(url_for(".detail", agent_id=agent.id))


@blp.route("/agents/tree")
@permission_required(READ)
def tree():
    """The network as a tree: top (city) agents with their subordinates (county agents)."""
    return render_template(
        "console/agents/tree.html", roots=agent_console.hierarchy(), level_names=agent_console.level_names()
    )


@blp.route("/agents/territories")
@permission_required(READ)
def territories():
    """Every held region, province → city → county, with the agents holding it (exclusive ones marked)."""
    provinces = {region.code: region.name for region in agent_console.regions_under(None)}
    province = choice_arg("province", tuple(provinces), _("Province"))
    return render_template(
        "console/agents/territories.html",
        rows=agent_console.territory_map(province),
        provinces=provinces,
        province=province,
    )


# --- agent levels --------------------------------------------------------------------------------------


@blp.route("/agent-levels")
@permission_required(READ)
def levels():
    """Every agent level, lowest first, with its terms and conditions."""
    return render_template("console/agents/levels.html", levels=agents.levels_by_rank())


def _fill_level(form: AgentLevelForm, level) -> None:
    form.commission.set_bp(level.commission_rate_bp)
    form.purchase_discount.set_bp(level.purchase_discount_bp)
    for item in level.conditions or ():
        name = METRIC_FIELDS.get(item["metric"])
        if name == "serviced_gmv":
            form.serviced_gmv.set_fen(int(item["minimum"]))
        elif name:
            getattr(form, name).data = int(item["minimum"])
        if item["metric"] == ACTIVE_SUBORDINATES and item.get("parameter") is not None:
            form.subordinate_days.data = int(item["parameter"])


def _conditions(form: AgentLevelForm) -> list[dict]:
    conditions = []
    for metric, name in METRIC_FIELDS.items():
        value = form.serviced_gmv.fen if name == "serviced_gmv" else getattr(form, name).data
        if value is None:
            continue
        condition = {"metric": metric, "minimum": int(value)}
        if metric == ACTIVE_SUBORDINATES and form.subordinate_days.data is not None:
            condition["parameter"] = int(form.subordinate_days.data)
        conditions.append(condition)
    return conditions


def _level_fields(form: AgentLevelForm) -> dict:
    return {
        "name": form.name.data,
        "badge": form.badge.data,
        "commission_rate_bp": form.commission.bp,
        "purchase_discount_bp": form.purchase_discount.bp,
        "territory_exclusive": form.territory_exclusive.data,
        "exclusive_access": form.exclusive_access.data,
        "combine": form.combine.data,
        "min_health_score": form.min_health_score.data,
        "conditions": _conditions(form),
    }


@blp.route("/agent-levels/<agent_level_id>/edit", methods=["GET", "POST"])
@permission_required(READ)
def edit_level(agent_level_id):
    """Edit a level's terms and conditions; "preview" shows who would move on the latest figures (no write)."""
    level = agents.get_level(agent_level_id)
    form = AgentLevelForm(obj=level)
    if request.method == "GET":
        _fill_level(form, level)
    preview = None
    if request.method == "POST" and form.validate_on_submit():
        fields = _level_fields(form)
        if form.preview.data:
            rule = LevelRule(
                level.rank,
                tuple(Condition(c["metric"], c["minimum"], c.get("parameter")) for c in fields["conditions"]),
                fields["combine"],
                fields["min_health_score"],
            )
            period, moves = agent_console.preview_level_change(level, rule)
            preview = {
                "period": period,
                "moves": moves,
                "names": agent_console.agent_names(),
                "ranks": {item.rank: item.name for item in agents.levels_by_rank()},
            }
        elif not can(WRITE):
            abort(403)
        else:
            try:
                agents.update_level(current_actor().key, level.id, **fields)
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Saved."), "success")
                return redirect(url_for(".levels"))
    status = 422 if form.errors else 200
    return render_template("console/agents/level_form.html", form=form, level=level, preview=preview), status


# --- evaluations and alerts ----------------------------------------------------------------------------


@blp.route("/agent-evaluations")
@permission_required(READ)
def evaluations():
    """Every evaluated month with its outcome counts; start an evaluation of a past month."""
    form = EvaluationRunForm(formdata=None)
    return render_template("console/agents/evaluations.html", runs=agent_console.evaluation_runs(), form=form)


@blp.route("/agent-evaluations/run", methods=["POST"])
@permission_required(WRITE)
def run_evaluation():
    """Evaluate every active agent for a month that has ended, after a confirmation with a reason."""
    form = EvaluationRunForm()
    if not form.validate_on_submit():
        status = 422
        return render_template(
            "console/agents/evaluations.html", runs=agent_console.evaluation_runs(), form=form
        ), status
    period = form.period.data
    confirm = confirm_form()
    if request.form.get("confirmed") != "yes" or not confirm.validate_on_submit():
        confirmation = Confirmation(
            title=_("Evaluate the agents for %(period)s", period=period),
            subject=period,
            warning=_("Agents move up or down a level by the results; an evaluated month is not evaluated again."),
            button=_("Evaluate"),
            action_url=url_for(".run_evaluation"),
            back_url=url_for(".evaluations"),
            carried={"period": period},
        )
        return confirm_page(confirmation, confirm if request.form.get("confirmed") == "yes" else None)
    try:
        done = run_once(confirm.once.data, lambda: agent_evaluation.evaluate_agents(current_actor().key, period))
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return redirect(url_for(".evaluations"))
    summary = done.body
    flash(
        _(
            "%(period)s: %(evaluated)s agents evaluated, %(upgraded)s up, %(downgraded)s down, %(alerts)s alerts.",
            period=period,
            evaluated=summary["evaluated"],
            upgraded=summary["upgraded"],
            downgraded=summary["downgraded"],
            alerts=summary["alerts"],
        ),
        "success",
    )
    return redirect(url_for(".period", period=period))


@blp.route("/agent-evaluations/<period>")
@permission_required(READ)
def period(period):
    """One month's results, agent by agent, with the figures and the reasons."""
    if not any(run.period == period for run in agent_console.evaluation_runs()):
        abort(404)
    outcome = choice_arg("outcome", tuple(AgentEvaluationOutcome), _("Outcome"))
    page = page_from_request()
    rows = agent_console.evaluations_of_period(period, {"outcome": outcome}, page)
    return render_template(
        "console/agents/period.html",
        period=period,
        rows=rows,
        page=page,
        outcome=outcome,
        level_names=agent_console.level_names(),
        outcomes=tuple(AgentEvaluationOutcome),
    )


EVALUATION_COLUMNS = (
    Column("agent", _l("Agent")),
    Column("level_before", _l("Level before")),
    Column("level_after", _l("Level after")),
    Column("outcome", _l("Outcome")),
    Column(SERVICED_GMV_FEN, METRIC_LABELS[SERVICED_GMV_FEN], "yuan"),
    *(
        Column(metric, METRIC_LABELS[metric], "int")
        for metric in (ACTIVE_RECRUITED_MEMBERS, ACTIVATED_CARDS, ACTIVE_DAYS, MERCHANTS_WITH_SALES, HEALTH_SCORE)
    ),
    Column("why", _l("Why")),
)


@blp.route("/agent-evaluations/<period>/results.<any(csv, xlsx):fmt>")
@permission_required(READ)
def export_period(period, fmt):
    """One month's results as one table (CSV or XLSX)."""
    if not any(run.period == period for run in agent_console.evaluation_runs()):
        abort(404)
    outcome = choice_arg("outcome", tuple(AgentEvaluationOutcome), _("Outcome"))
    levels = agent_console.level_names()
    rows = all_rows(lambda page: agent_console.evaluations_of_period(period, {"outcome": outcome}, page), 1_000)
    lines = (
        {
            "agent": agent.name,
            "level_before": levels.get(evaluation.level_before_id, ""),
            "level_after": levels.get(evaluation.level_after_id, ""),
            "outcome": str(OUTCOME_LABELS.get(evaluation.outcome, evaluation.outcome)),
            **{metric: evaluation.figures.get(metric) for metric in METRIC_LABELS if metric != ACTIVE_SUBORDINATES},
            "why": "；".join(text for text in (reason_text(reason) for reason in evaluation.reasons) if text),
        }
        for evaluation, agent in rows
    )
    return table_download(EVALUATION_COLUMNS, lines, fmt, f"agent-evaluations-{period}")


@blp.route("/agent-alerts")
@permission_required(READ)
def alerts():
    """Early warnings, newest first, by kind and month."""
    kind = choice_arg("kind", tuple(AgentAlertKind), _("Kind"))
    state = choice_arg("state", ("open", "acknowledged"), _("State"))
    period = request.args.get("period", "").strip()
    if period and not agent_evaluation.PERIOD.match(period):
        report_invalid_filter(_("Month"), period)
        period = ""
    page = page_from_request()
    rows = agent_console.list_alerts({"kind": kind, "period": period or None, "state": state}, page)
    return render_template(
        "console/agents/alerts.html",
        rows=rows,
        page=page,
        kind=kind,
        state=state,
        period=period,
        kinds=tuple(AgentAlertKind),
    )


@blp.route("/agent-alerts/<alert_id>/acknowledge", methods=["POST"])
@permission_required(WRITE)
def acknowledge(alert_id):
    """Acknowledge an alert: a confirmation with the reason (how it was handled), kept on the alert and audited."""
    alert = agent_alerts.get_alert(alert_id)
    agent = agents.get_agent(alert.agent_id)
    form = confirm_form()
    confirmed = request.form.get("confirmed") == "yes"
    if not confirmed or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Acknowledge the alert of agent %(name)s", name=agent.name),
            subject=f"{agent.name} · {alert.period} · {ALERT_LABELS.get(alert.kind, alert.kind)}",
            warning=_("The alert leaves the open list; the reason says how it was handled."),
            button=_("Acknowledge"),
            action_url=url_for(".acknowledge", alert_id=alert.id),
            back_url=url_for(".alerts"),
        )
        return confirm_page(confirmation, form if confirmed else None)
    try:
        run_once(
            form.once.data,
            lambda: {"id": agent_alerts.acknowledge_alert(current_actor().key, alert.id, form.reason.data).id},
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Alert acknowledged."), "success")
    return redirect(url_for(".alerts"))


# --- policy --------------------------------------------------------------------------------------------


@blp.route("/agent-policy", methods=["GET", "POST"])
@permission_required(READ)
def policy():
    """The network's settings (chain depth, grace, protection, fast track, alerts) and its compliance notes."""
    current = agents.current_policy()
    form = AgentPolicyForm(obj=current)
    if request.method == "GET":
        form.alert_drop.set_bp(current.alert_drop_bp)
    if request.method == "POST":
        if not can(WRITE):
            abort(403)
        if form.validate_on_submit():
            fields = {
                name: getattr(form, name).data
                for name in (
                    "chain_max_depth",
                    "grace_periods",
                    "protection_periods",
                    "fast_track_periods",
                    "health_floor",
                    "alert_health_below",
                )
            } | {"alert_drop_bp": form.alert_drop.bp}
            try:
                agents.update_policy(current_actor().key, **fields)
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Saved."), "success")
                return redirect(url_for(".policy"))
    status = 422 if form.errors else 200
    return render_template("console/agents/policy.html", form=form, policy=current, percent=percent), status
