"""Fixtures shared by the runtime tests."""

import pytest

from dlsuite.apps.runtime import training
from tests.runtime.helpers import TINY_MLP


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """A finished three-epoch ``mlp`` run (its directory): backups of epochs
    2 and 3, ``best.keras``, the export. Tests corrupt copies of it
    (``helpers.copy_run``), never the run itself."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    session, _ = training.train("mlp", TINY_MLP, epochs=3, strategy="default",
                                precision_name="float32", run_dir=run_dir, verbose=0)
    return session.run.path
