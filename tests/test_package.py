"""The package works however it is installed: `python -m build` makes a wheel that carries the
embedded models and examples, and the installed package finds them (importlib.resources) from any
directory — in a fresh virtual environment and in a `pip install --target` folder."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _sources(dest: Path) -> Path:
    """A copy of the checkout's files (tracked and new, not ignored), so building writes nothing here."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = _sources(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    # No isolation: setuptools is already installed, and an isolated build would fetch it again.
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                   check=True, capture_output=True)
    (found,) = out.glob("vitviz-*.whl")
    return found


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# What an installed vitviz must do from a folder that is not the checkout: say where it was imported
# from, list its embedded models, and analyse a bundled example (the CLI writes figures).
CHECK = ("import vitviz, sys; from vitviz.core.assets import example_images; "
         "from vitviz.core.model import embedded_models; "
         "print(vitviz.__file__); print(','.join(embedded_models())); print(example_images('shapes_*')[0])")


def _check_installed(python: str, where: Path, work: Path, env: dict | None = None, run_cli: bool = True) -> None:
    imported, models, example = _run([python, "-c", CHECK], work, env).split()
    assert Path(imported).resolve().is_relative_to(where.resolve()), imported
    assert {"vitviz-fashion", "vitviz-shapes"} <= set(models.split(","))
    if run_cli:
        _run([python, "-m", "vitviz", example, "--out", str(work / "out")], work, env)
        assert any((work / "out").glob("*.png"))


def test_the_wheel_carries_the_models_examples_and_scripts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("vitviz/assets/models/vitviz-fashion.safetensors", "vitviz/assets/models/vitviz-shapes.json",
                 "vitviz/assets/examples/LICENSES.md", "vitviz/views/explorer.js", "vitviz/ui/accessibility.js"):
        assert name in names


def test_the_wheel_works_in_a_fresh_environment_from_any_directory(wheel, tmp_path):
    # The venv sees the machine's torch/timm/gradio (system site-packages) but not the checkout.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(tmp_path / "env")], check=True)
    python = str(tmp_path / "env" / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    _check_installed(python, tmp_path / "env", work)


def test_a_target_install_finds_its_assets(wheel, tmp_path):
    target = tmp_path / "target"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
          str(wheel)], tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    # the assets are found (the CLI itself is exercised by the venv test: same code, same files)
    _check_installed(sys.executable, target, work, env={"PYTHONPATH": str(target)}, run_cli=False)
