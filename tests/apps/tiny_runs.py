"""One tiny training run per test module, shared by its tests."""

from dlsuite.apps.runtime import commands


def train_tiny(app, overrides, epochs, tmp_path_factory):
    """Train ``app`` float32 on one device into a fresh directory; ``(session,
    metrics, run_dir)``."""
    run_dir = tmp_path_factory.mktemp(app) / "run"
    session, metrics = commands.train(app, overrides=overrides, epochs=epochs, strategy="default",
                                      precision_name="float32", run_dir=str(run_dir), verbose=0)
    return session, metrics, run_dir
