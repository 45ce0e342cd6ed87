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
    env.filters["json_script"] = json_script
    return env


@cache
def asset(name: str) -> Markup:
    return Markup((HERE / "static" / name).read_text(encoding="utf-8"))


def json_script(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '</' can close the element early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("</", "<\\/").replace("<!--", "<\\!--"))


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
