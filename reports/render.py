"""One Jinja environment for every page; styles and scripts are inlined so a page is a single file."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

HERE = Path(__file__).parent


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["j2", "html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["asset"] = asset
    env.globals["clock"] = clock
    env.filters["json_script"] = json_script
    return env


@cache
def asset(name: str) -> Markup:
    return Markup((HERE / "static" / name).read_text(encoding="utf-8"))


def clock(seconds: float | None) -> str:
    """Seconds into a call as people read them: 84.2 -> '1:24.2'."""
    if seconds is None:
        return "—"
    s = max(0.0, float(seconds))
    return f"{int(s // 60)}:{s % 60:04.1f}"


def json_script(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '</' can close the element early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("</", "<\\/").replace("<!--", "<\\!--"))


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
