"""A non-editable install: the wheel carries the templates, styles, scripts, lexicons and the diarisation
config, and a review site renders from the installed copy alone (the checkout cannot stand in for it)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def top_level_packages() -> list[str]:
    """The packages pyproject.toml ships, top level only (their folders hold the subpackages)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return sorted({name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]})


# runs in a fresh interpreter with the installed copy first on the path; prints where things came from
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.append(sys.argv[2])  # tests/: the report fixture builder, which imports the installed packages
from pathlib import Path
import callqa, pipelines.models, reports.render
from qa_checks import load_lexicon
from reportdata import build_output
from reports.site import build_site
out = Path(sys.argv[3])
build_output(out)
lexicon = load_lexicon(None)  # the default: the installed lexicons
site = build_site(out, None, lexicon)
print(json.dumps({
    "callqa": callqa.__file__, "lexicons": str(lexicon.directory), "templates": str(reports.render.HERE),
    "diarization_config": pipelines.models.diarization_config_text().decode()[:40], "pages": site.pages,
    "errors": site.errors, "models": str(pipelines.models.MODELS_DIR),
}))
"""


def copy_sources(tmp: Path) -> Path:
    """The files a build reads (building in the checkout would leave build/ behind in it)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in top_level_packages():
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def assert_quiet_build(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    # setuptools names what it would leave out, what is deprecated, and a lenient editable install; a
    # clean build says nothing of the kind
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr


def build_wheel(tmp: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w",
                           str(tmp / "dist"), str(copy_sources(tmp))], capture_output=True, text=True, timeout=300)
    assert_quiet_build(done)
    (wheel,) = (tmp / "dist").glob("callqa-*.whl")
    return wheel


def test_the_editable_install_of_setup_sh_builds_without_warnings(tmp_path):
    # setup.sh's own warning filter: it drops setuptools' note on editable installs and nothing else
    (ignore,) = re.findall(r'PYTHONWARNINGS="([^"]+)"', (ROOT / "setup.sh").read_text(encoding="utf-8"))
    # into an empty environment of its own, by this pip (pip --python): installing callqa anywhere else
    # from here would first uninstall the callqa this environment runs
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                           "--disable-pip-version-check", "-e", str(copy_sources(tmp_path))],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": ignore})
    assert_quiet_build(done)
    assert "uninstall" not in done.stdout.lower()
    assert list(venv.glob("lib/python3*/site-packages/__editable__*callqa*finder.py"))


def test_the_wheel_ships_the_data_and_renders_pages_from_the_installed_copy(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "reports/templates": sorted(p.name for p in (ROOT / "reports" / "templates").iterdir()),
        "reports/static": sorted(p.name for p in (ROOT / "reports" / "static").iterdir()),
        "lexicons": sorted(p.name for p in (ROOT / "lexicons").glob("*.yaml")),
        "lexicons/questionnaires": sorted(p.name for p in (ROOT / "lexicons" / "questionnaires").glob("*.yaml")),
        "pipelines": ["diarization.yaml"],
    }
    for folder, files in shipped.items():
        assert files, folder
        for name in files:
            assert f"{folder}/{name}" in names, f"{folder}/{name} missing from {wheel.name}"

    target = tmp_path / "site"  # --target: a folder of its own, the running environment left as it is
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing is found by being in the current folder
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CALLQA_MODELS", "CALLQA_LEXICONS")}
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", PROBE, str(target), str(ROOT / "tests"), str(out)], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("callqa", "lexicons", "templates"):
        assert Path(found[key]).is_relative_to(target), f"{key} loaded from {found[key]}, not the installed wheel"
    assert found["diarization_config"].startswith("# The diarisation pipeline")
    # an installed package keeps its models in the user's data folder, not in site-packages
    assert found["models"] == str(tmp_path / "home" / ".local" / "share" / "callqa" / "models")
    assert found["errors"] == []
    assert found["pages"] == 5

    index = (out / "review" / "index.html").read_text(encoding="utf-8")
    page = next((out / "review" / "calls").glob("*.html")).read_text(encoding="utf-8")
    style = (target / "reports" / "static" / "style.css").read_text(encoding="utf-8")
    for html in (index, page):
        assert style.strip() in html  # the installed stylesheet, inlined
        assert "<h1>callqa 质检</h1>" in html  # the installed base template
    assert (target / "reports" / "static" / "review.js").read_text(encoding="utf-8").strip()[:200] in page


def setup_helpers() -> str:
    """setup.sh's helpers (fail, need_space, compile_packages), cut out of the script itself so that the
    tests run its code."""
    text = (ROOT / "setup.sh").read_text(encoding="utf-8")
    fail = re.search(r"^fail\(\) \{.*\}$", text, re.M)
    functions = [re.search(rf"^{name}\(\) \{{\n.*?\n\}}$", text, re.M | re.S)
                 for name in ("need_space", "compile_packages")]
    assert fail and all(functions), "setup.sh no longer defines fail, need_space and compile_packages"
    return "\n".join(m.group(0) for m in [fail, *functions]) + "\n"


def test_setup_sh_stops_before_an_install_the_disk_cannot_hold(tmp_path):
    script = setup_helpers()
    enough = subprocess.run(["bash", "-c", script + f'need_space "{tmp_path}" 1 && echo fits'],
                            capture_output=True, text=True)
    assert enough.returncode == 0 and enough.stdout.strip() == "fits"
    # no disk has a billion GB: the check refuses, naming the folder and both amounts
    short = subprocess.run(["bash", "-c", script + f'need_space "{tmp_path}" 1000000000000 && echo fits'],
                           capture_output=True, text=True)
    assert short.returncode == 1 and "fits" not in short.stdout
    assert f"setup.sh: error: {tmp_path} has " in short.stderr
    assert "MB free; the install needs about 1000000000000 MB" in short.stderr


def test_setup_sh_compiles_the_packages_pyproject_ships(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools]\npackages = ["pkg", "pkg.sub"]\n', encoding="utf-8")
    for rel in ("pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/mod.py", "other/mod.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("VALUE = 1\n", encoding="utf-8")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(["bash", "-c", setup_helpers() + f'compile_packages "{sys.executable}"'], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    for rel in ("pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/mod.py"):
        assert Path(importlib.util.cache_from_source(str(tmp_path / rel))).is_file(), rel
    assert not (tmp_path / "other" / "__pycache__").exists()  # not a package pyproject.toml ships
    # a module that does not compile fails the step, and setup.sh stops on it
    (tmp_path / "pkg" / "broken.py").write_text("def f(:\n", encoding="utf-8")
    broken = subprocess.run(["bash", "-c", setup_helpers() + f'compile_packages "{sys.executable}" || fail "no"'],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert broken.returncode == 1 and "broken.py" in broken.stdout + broken.stderr
