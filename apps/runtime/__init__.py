"""The runtime: the one path every app trains, evaluates and exports through."""

from apps.runtime.app import App, Endpoint
from apps.runtime.config import BaseConfig
from apps.runtime.errors import UsageError
