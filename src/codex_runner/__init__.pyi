# The types of the names codex_runner/__init__.py loads lazily (type checkers read this file).
from codex_runner.codex.app_server import AppServerRuntime as AppServerRuntime
from codex_runner.codex.errors import CodexError as CodexError
from codex_runner.codex.exec_runtime import ExecRuntime as ExecRuntime
from codex_runner.codex.factory import create_runtime as create_runtime
from codex_runner.codex.runtime import CodexRuntime as CodexRuntime
from codex_runner.codex.runtime import ImageInput as ImageInput
from codex_runner.codex.runtime import TextInput as TextInput
from codex_runner.codex.runtime import ThreadOptions as ThreadOptions
from codex_runner.codex.runtime import Turn as Turn
from codex_runner.codex.runtime import TurnOptions as TurnOptions
from codex_runner.codex.runtime import TurnResult as TurnResult
from codex_runner.config import ConfigError as ConfigError
from codex_runner.config import RunnerConfig as RunnerConfig
from codex_runner.config import load_config as load_config

__version__: str
IMPORTED_AT: float
__all__: list[str]
