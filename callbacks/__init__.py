"""Reusable Keras callbacks for anyone's ``model.fit``."""

if not __name__.startswith("dlsuite."):
    # The folder is installed as dlsuite.callbacks; importing it by its bare name
    # (from the repository root) would load every module twice, under two names.
    raise ImportError("import dlsuite.callbacks, not callbacks: the library's one namespace is dlsuite "
                      "(pip install -e . puts it on the path)")

from dlsuite.callbacks.epoch_history_log import EpochHistoryLog
from dlsuite.callbacks.bias_variance import BiasVarianceMonitor, bias_variance
from dlsuite.callbacks.error_analysis import ErrorAnalysisLogger, error_groups
from dlsuite.callbacks.embedding_projector import EmbeddingProjector, write_projector
from dlsuite.callbacks.triplet_monitor import TripletMonitor, triplet_statistics
from dlsuite.callbacks.run_backup import CorruptBackup, RunBackup
from dlsuite.callbacks.step_progbar_logger import StepProgbarLogger
