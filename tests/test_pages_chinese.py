"""Chinese text on every page is drawn with real glyphs, not the empty boxes of a missing font; clip players
know their length before they are played.

Every page names a CJK font stack (reports/static/fonts.css); CI installs one (Debian fonts-noto-cjk).
The glyph test draws each Chinese character of a page with the page's own font on a canvas, in the real
browser, and compares it with a character no font has (the missing-glyph box): without a CJK font every
Chinese character is that same box.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import console_errors, wait_for
from reportdata import build_output

from reports.clips import make_clips
from reports.render import asset
from reports.scorecard import build_scorecard
from reports.scorecard_files import write_html
from reports.site import build_site
from reports.tables import Filters, Tables

WEEK = "2026-W47"  # the fixtures' calls
FONT_STACK = ('"Noto Sans CJK SC", "Source Han Sans SC",', '"WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC"')

# For each distinct Han character of the element's text (up to 40): its drawing in the element's own font,
# next to the drawing of U+10FFFD (plane-16 private use, in no font).
GLYPHS_JS = """
const el = document.querySelector(arguments[0]);
const style = getComputedStyle(el);
const font = `${style.fontWeight} 32px ${style.fontFamily}`;
const chars = Array.from(new Set(Array.from(el.innerText).filter(c => /\\p{Script=Han}/u.test(c)))).slice(0, 40);
function draw(ch) {
  const canvas = document.createElement("canvas");
  canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext("2d");
  ctx.font = font; ctx.textBaseline = "top"; ctx.fillStyle = "#000";
  ctx.fillText(ch, 4, 4);
  return canvas.toDataURL();
}
const box = draw(String.fromCodePoint(0x10FFFD));
const images = chars.map(draw);
return {family: style.fontFamily, chars: chars.join(""), boxes: chars.filter((c, i) => images[i] === box).join(""),
        distinct: new Set(images).size, blank: images.filter(i => i === draw(" ")).length};
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    out = build_output(tmp_path_factory.mktemp("out"))
    site = build_site(out)
    clips = make_clips(Tables(out), Filters(rule=("forbidden",)), out / "clips")
    assert clips.clips, "the fixtures have forbidden-phrase findings to cut"
    scorecard = write_html(build_scorecard(Tables(out), WEEK), out / "scorecard.html")
    return {"queue": site.dest / "index.html", "review": next((site.dest / "calls").glob("*.html")),
            "clips": clips.index_html, "scorecard": scorecard}


def test_every_page_names_the_cjk_font_stack(pages):
    fonts = asset("fonts.css")
    assert all(name in fonts for name in FONT_STACK)
    for kind, page in pages.items():
        assert fonts in page.read_text(encoding="utf-8"), f"the {kind} page does not carry fonts.css"


@pytest.mark.parametrize(("kind", "selector"), [("queue", "body"), ("review", "#conversation"), ("clips", "main"),
                                                 ("scorecard", "body")])
def test_chinese_glyphs_render_on_every_page(driver, pages, kind, selector):
    driver.get(pages[kind].as_uri())
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what=f"the {kind} page")
    seen = driver.execute_script(GLYPHS_JS, selector)
    assert "Noto Sans CJK SC" in seen["family"]
    assert len(seen["chars"]) >= 20, seen  # a page in Chinese: enough characters to judge by
    assert seen["boxes"] == "", f"drawn as the missing-glyph box on the {kind} page: {seen['boxes']}"
    assert seen["blank"] == 0, seen
    # real glyphs differ from one another; missing ones are all the same box
    assert seen["distinct"] == len(seen["chars"]), seen
    assert console_errors(driver) == []


def test_clip_players_know_their_length_before_playing(driver, pages):
    driver.get(pages["clips"].as_uri())
    durations = wait_for(lambda: driver.execute_script(
        "const a = Array.from(document.querySelectorAll('audio'));"
        "return a.every(x => x.readyState >= 1) ? a.map(x => x.duration) : null;"), what="the clips' metadata")
    assert durations and all(0 < d < 120 for d in durations), durations
    assert driver.execute_script("return Array.from(document.querySelectorAll('audio')).every(x => x.paused)")
