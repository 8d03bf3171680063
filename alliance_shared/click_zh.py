"""click's own words (usage lines, error prefixes, option errors) in Simplified Chinese for the command lines
(`alliance-pos`, `alliance-server`).

click marks its texts for gettext (``from gettext import gettext as _`` in each of its modules) and ships no
catalogs. ``click_language`` points those module-level ``_`` / ``ngettext`` names at this catalog, so every
line click prints to a cashier or an operator is Chinese by default; English (click's msgids) with ``--lang en``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# click's msgids (click 8.x) -> Chinese. Singular and plural of an ngettext pair share one Chinese text.
CLICK_ZH: dict[str, str] = {
    "Usage:": "用法：",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "输入 '{command} {option}' 查看帮助。",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "Did you mean {possibility}?": "是否想输入 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（是否想输入以下之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 需要 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，只给了 1 个。",
    "Takes {nargs} values but {len} were given.": "需要 {nargs} 个值，给了 {len} 个。",
    "Aborted!": "已取消！",
    "unknown error": "未知错误",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不在可选值 {choices} 之中。",
    "Choose from:\n\t{choices}": "可选值：\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 之内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是有效的是/否值。可用：{states}",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 无法读取。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 无法写入。",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示本帮助并退出。",
    "default: {default}": "默认：{default}",
    "required": "必填",
}

# click's modules that print to the user, each with its own ``_`` (and some with ``ngettext``).
_CLICK_MODULES = (
    "click.core",
    "click.exceptions",
    "click.parser",
    "click.types",
    "click.formatting",
    "click.decorators",
)


def _zh_gettext(message: str) -> str:
    return CLICK_ZH.get(message, message)


def _zh_ngettext(singular: str, plural: str, count: int) -> str:
    return _zh_gettext(singular if count == 1 else plural)


def _en_gettext(message: str) -> str:
    return message


def _en_ngettext(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


@contextmanager
def click_language(lang: str) -> Iterator[None]:
    """Make click speak ``lang`` ("zh" or "en") inside the block; click's own gettext afterwards (the same
    process may run other click programs, such as `alliance-server` in the tests)."""
    gettext: Callable[[str], str] = _en_gettext if lang == "en" else _zh_gettext
    ngettext: Callable[[str, str, int], str] = _en_ngettext if lang == "en" else _zh_ngettext
    saved = []
    for name in _CLICK_MODULES:
        module = importlib.import_module(name)
        saved.append((module, module._, getattr(module, "ngettext", None)))
        module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext
    try:
        yield
    finally:
        for module, old_gettext, old_ngettext in saved:
            module._ = old_gettext
            if old_ngettext is not None:
                module.ngettext = old_ngettext
