"""The runtime: the one path every app trains, evaluates and exports through."""

from dlsuite.apps.runtime.app import App, Endpoint
from dlsuite.apps.runtime.config import BaseConfig
from dlsuite.apps.errors import UsageError
