"""How the customer paid the rest of the bill: the five methods, their names and the window's keys."""

from __future__ import annotations

DEFAULT = "cash"

# method: (Chinese, English, the key that picks it in the window: the pinyin initial)
METHODS: dict[str, tuple[str, str, str]] = {
    "cash": ("现金", "Cash", "x"),
    "wechat": ("微信", "WeChat", "w"),
    "alipay": ("支付宝", "Alipay", "z"),
    "card": ("银行卡", "Bank card", "y"),
    "other": ("其他", "Other", "q"),
}


def method_name(method: str, lang: str = "zh") -> str:
    """The method as the cashier and the receipt say it (现金, 微信, ...)."""
    zh, en, _ = METHODS.get(method, (method, method, ""))
    return en if lang == "en" else zh


def method_for_key(char: str) -> str | None:
    """The method a key picks in the window, if any."""
    return next((method for method, (_, _, key) in METHODS.items() if key == char.lower()), None)
