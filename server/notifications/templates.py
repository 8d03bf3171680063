"""SMS texts by template name (Chinese: SMS goes to mainland mobile numbers).

``{code}`` is the slot of a one-time code: only ``queue_sms(..., secret=...)`` fills it, so the outbox
keeps it masked.
"""

SMS_TEMPLATES = {
    "login_code": "【{alliance}】您的验证码是{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
    "account_closed": "【{alliance}】您的会员账户已注销，积分已作废。如非本人操作，请联系客服。",
    "points_expiring": "【{alliance}】您有{points}积分将于{date}后过期，请及时在联盟商家使用。",
    "till_proof_code": (
        "【{alliance}】您在{merchant}使用积分的验证码是{code}，{minutes}分钟内有效。请只告诉本店收银员。"
    ),
    "points_spent": (
        "【{alliance}】您在{merchant}使用了{points}积分，抵扣{value}元，剩余{balance}积分。如非本人操作，请联系客服。"
    ),
    "agent_figure_drop": (
        "【{alliance}】经营预警：{subject}{period}最后14天服务商户消费{after}元，"
        "比前14天的{before}元下降{drop}%，请及时跟进。"
    ),
    "agent_health_low": (
        "【{alliance}】经营预警：{subject}{period}的健康分为{score}分，低于预警线{line}分，请及时处理退款、投诉等问题。"
    ),
    "benefit_low_stock": (
        "【{alliance}】权益库存预警：{sku}可用库存{available}个，低于预警线{threshold}个，请及时补货。"
    ),
    "benefit_demand_shortfall": (
        "【{alliance}】权益库存预警：{sku}排期需要{demanded}个，可用{available}个，自{date}起缺{short}个，请及时采购。"
    ),
    "benefit_near_expiry": (
        "【{alliance}】权益临期预警：{sku}有{count}个将在{days}天内过期（最早{date}），成本{cost}元，请尽快发放或处理。"
    ),
    "benefit_supplier_failures": (
        "【{alliance}】供应商预警：{supplier}近{days}天核销失败{failed}个，共{attempts}次核销，"
        "失败率{rate}%，超过{threshold}%，请核查并索赔。"
    ),
    "benefit_velocity": (
        "【{alliance}】风控预警：{subject}在{period}内{what}{count}次，达到预警线{threshold}次，请核查。"
    ),
    "benefit_claim_code": (
        "【{alliance}】您正在领取{sku}，验证码是{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。"
    ),
    "benefit_expiring": "【{alliance}】您的{sku}等{count}个权益将于{date}到期，请打开会员中心“我的权益”及时使用。",
}


def render_sms(template: str, **params) -> str:
    """The text of ``template`` with ``params`` filled in; an unknown template or parameter is a bug."""
    return SMS_TEMPLATES[template].format(**params)
