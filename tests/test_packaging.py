"""The wheel installs one top-level import package, ``dlsuite``, and the
``dlsuite`` command (issue 31): the repository's top-level folders apps/,
layers/, losses/ and callbacks/ are mapped into it by pyproject.toml."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY_FOLDERS = ("apps", "layers", "losses", "callbacks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: setuptools writes build/ and *.egg-info beside
    # them, and two pytest workers may build at once.
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in LIBRARY_FOLDERS:
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    # --no-isolation: the build uses the dev extra's pinned setuptools, offline.
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(out), str(source)], check=True, capture_output=True,
                   cwd=out)
    (path,) = out.glob("dlsuite-*.whl")
    return path


def _names(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_has_one_top_level_package(wheel):
    tops = {name.split("/")[0] for name in _names(wheel) if ".dist-info/" not in name}
    assert tops == {"dlsuite"}
    with zipfile.ZipFile(wheel) as archive:
        (top_level,) = [n for n in archive.namelist() if n.endswith("top_level.txt")]
        assert archive.read(top_level).decode().split() == ["dlsuite"]


def test_wheel_holds_every_package_of_the_library_folders(wheel):
    expected = {f"dlsuite/{init.parent.relative_to(ROOT).as_posix()}"
                for folder in LIBRARY_FOLDERS for init in (ROOT / folder).rglob("__init__.py")
                if "__pycache__" not in init.parts}
    packaged = {name.rsplit("/", 1)[0] for name in _names(wheel)
                if name.endswith("/__init__.py")}
    assert packaged == expected
    modules = {f"dlsuite/{py.relative_to(ROOT).as_posix()}"
               for folder in LIBRARY_FOLDERS for py in (ROOT / folder).rglob("*.py")}
    assert modules <= set(_names(wheel))
    # Tests, benchmarks and fixtures stay out of the wheel.
    assert not [n for n in _names(wheel) if n.startswith(("dlsuite/tests", "tests/", "benchmarks"))]


def test_wheel_declares_the_dlsuite_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(points).decode()
    assert "dlsuite = dlsuite.apps.cli:main" in text


def test_installed_wheel_imports_from_its_own_files(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-compile", "--target", str(target), str(wheel)], check=True)
    code = ("import dlsuite.losses, dlsuite.layers, dlsuite.callbacks, dlsuite.apps.registry;"
            "from dlsuite.losses import TripletLoss; from dlsuite.layers import GramMatrix;"
            "from dlsuite.callbacks import RunBackup; print(dlsuite.losses.__file__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "3",
                                          "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(target))


@pytest.mark.parametrize("bare", LIBRARY_FOLDERS)
def test_bare_folder_names_do_not_import(bare):
    """From the repository root the folders are importable by their bare
    names; that would be a second copy of every module, so it is refused."""
    done = subprocess.run([sys.executable, "-c", f"import {bare}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert f"import dlsuite.{bare}, not {bare}" in done.stderr
