"""The house's import contracts (pyproject.toml, checked by ``lint-imports``
in ``make test``) cover every app, and the private-names contract type finds
what it should."""

import pathlib
import tomllib

from dlsuite.apps import registry
from tests.house.private_names import violations

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _contracts():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _app_packages():
    """The package of each registered app (variants of a family share one)."""
    modules = registry.declared()
    return {".".join(modules[name].split(".")[:3]) for name in registry.names()}


def test_every_app_package_is_on_the_apps_floor_and_independent():
    contracts = _contracts()
    apps_floor = set(contracts["floors"]["layers"][1].replace(" ", "").split("|"))
    assert _app_packages() == apps_floor
    assert _app_packages() == set(contracts["apps"]["modules"])


def test_every_declared_app_registers_itself():
    declared = registry.declared()
    assert set(declared) == set(registry.names())
    for name, module in declared.items():
        assert registry._APPS[name].__module__ == module


def test_private_names_across_packages_are_found():
    sources = {
        # Inside the package that holds the name: allowed.
        "dlsuite.apps.kits.detection.app": "from dlsuite.apps.kits.detection.evaluation import _iou\n",
        # From another package, also over several lines: broken.
        "dlsuite.apps.rcnn.targets": ("from dlsuite.apps.kits.detection.evaluation import (\n"
                                      "    match,\n    _iou,\n)\n"),
        # Dunders are no private names; public names are fine.
        "dlsuite.apps.yolo": "from dlsuite.apps.kits.detection import __doc__, evaluation\n",
    }
    assert violations(sources) == [
        ("dlsuite.apps.rcnn.targets", 1, "dlsuite.apps.kits.detection.evaluation", "_iou")]
