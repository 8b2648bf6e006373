"""Reusable Keras callbacks for anyone's ``model.fit``."""

from callbacks.epoch_history_log import EpochHistoryLog
from callbacks.bias_variance import BiasVarianceMonitor, bias_variance
from callbacks.error_analysis import ErrorAnalysisLogger, error_groups
from callbacks.embedding_projector import EmbeddingProjector, write_projector
from callbacks.triplet_monitor import TripletMonitor, triplet_statistics
from callbacks.run_backup import CorruptBackup, RunBackup
from callbacks.step_progbar_logger import StepProgbarLogger
