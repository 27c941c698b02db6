"""`make test` on a fresh checkout: it installs the browser tests' npm packages
(pinned in tests/browser/package-lock.json) when they are missing and npm is
there, and still runs the suite when npm is not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The Makefile and the files its test target reads, with a venv that is
    already installed and whose python only records that pytest ran."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "tests" / "browser").mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "tests" / "browser" / name, tmp_path / "tests" / "browser" / name)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    _script(tmp_path / ".venv" / "bin" / "python", f'echo "$*" >> "{tmp_path / "pytest.log"}"\n')
    (tmp_path / ".venv" / ".installed").touch()
    earlier = (tmp_path / ".venv" / ".installed").stat().st_mtime - 60
    for name in ("requirements.txt", "requirements-dev.txt", "tests/browser/package.json"):
        os.utime(tmp_path / name, (earlier, earlier))
    return tmp_path


def _make_test(checkout: Path, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MAKE, "-C", str(checkout), "test"],
        env={"PATH": path, "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_test_installs_the_browser_packages_once_when_npm_is_there(checkout, tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp("bin")
    log = checkout / "npm.log"
    _script(bin_dir / "npm", f'echo "$(pwd) $*" >> "{log}"\n{shutil.which("mkdir")} -p node_modules\n')
    (bin_dir / "touch").symlink_to(shutil.which("touch"))
    first = _make_test(checkout, str(bin_dir))
    assert first.returncode == 0, first.stderr
    [call] = log.read_text().splitlines()
    assert call.startswith(f"{checkout / 'tests' / 'browser'} ci ")
    assert (checkout / "pytest.log").read_text().startswith("-m pytest")

    second = _make_test(checkout, str(bin_dir))
    assert second.returncode == 0, second.stderr
    assert len(log.read_text().splitlines()) == 1  # installed: not again


def test_make_test_runs_the_suite_without_npm_and_says_what_is_missing(checkout, tmp_path_factory):
    result = _make_test(checkout, str(tmp_path_factory.mktemp("empty-bin")))
    assert result.returncode == 0, result.stderr
    assert "npm not found" in result.stdout
    assert (checkout / "pytest.log").read_text().startswith("-m pytest")
