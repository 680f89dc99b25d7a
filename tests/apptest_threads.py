"""AppTest sessions in threads: AppTest swaps process-wide state around every run (Runtime._instance,
a PagesManager class flag, config.get_option), so runs in threads would undo each other's, and it
compiles the script afresh on every run (concurrent ast.parse calls trip a CPython 3.11 bug,
"AST constructor recursion depth mismatch"). Inside shared_runtime() every session shares one
runtime and one script cache, as the sessions of a real server share one Runtime, its media file
manager and its ScriptCache (which compiles each page once, under a lock). ast.parse has more callers
than the script cache (Python 3.11's traceback carets, inspect.signature of builtins): a CI run once
failed with the recursion-depth SystemError even with the shared cache, so inside shared_runtime()
every ast.parse in the process also takes one lock (the bug, CPython gh-106905, is in the AST-to-object
conversion's shared depth counter).
Used by tests/test_concurrency.py and bench/serve.py."""

from __future__ import annotations

import ast
import contextlib
import threading
from unittest.mock import MagicMock, patch

from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import app_test
from streamlit.testing.v1.util import patch_config_options

_PARSE_LOCK = threading.RLock()
_parse = ast.parse


def _serial_parse(*args, **kwargs):
    with _PARSE_LOCK:
        return _parse(*args, **kwargs)


class _Ignored:  # what AppTest's own per-run swaps write to inside shared_runtime()
    _instance = None


@contextlib.contextmanager
def shared_runtime():
    shared = MagicMock(spec=Runtime)
    shared.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    shared.dataframe_source_mgr = DataframeSourceManager()
    shared.cache_storage_manager = MemoryCacheStorageManager()
    shared.bidi_component_registry = BidiComponentManager()
    shared.bidi_component_registry.discover_and_register_components(start_file_watching=False)
    scripts = ScriptCache()
    with (
        patch.object(app_test, "Runtime", _Ignored),
        patch.object(app_test, "ScriptCache", lambda: scripts),
        patch.object(app_test, "PagesManager", type("PagesManager", (PagesManager,), {})),
        patch.object(app_test, "patch_config_options", lambda overrides: contextlib.nullcontext()),
        patch.object(Runtime, "_instance", shared),
        patch.object(ast, "parse", _serial_parse),
        patch_config_options({"global.appTest": True}),
    ):
        yield
