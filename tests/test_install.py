"""A wheel, installed without the source tree beside it, finds the models it ships."""

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_wheel_installed_apart_from_the_checkout_finds_its_shipped_models(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)  # fmt: skip
    wheel = next((tmp_path / "dist").glob("hcrbatch-*.whl"))
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    found = subprocess.run(
        [python, "-c", "from hcrbatch.config import DEFAULT_MODELS_DIR; print(DEFAULT_MODELS_DIR)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    models = Path(found)
    assert models.is_relative_to(tmp_path / "env")  # the installed copy, not the checkout's
    shipped = sorted(p.name for p in (REPO / "models").glob("*.json"))
    assert sorted(p.name for p in models.glob("*.json")) == shipped
    for name in shipped:  # each manifest's weights came along
        manifest = json.loads((models / name).read_text(encoding="utf-8"))
        weights = manifest.get("weights", name.replace(".json", ".keras"))
        assert (models / weights).read_bytes() == (REPO / "models" / weights).read_bytes()
