# Cuts Python's ways to Pyodide's JavaScript before any user code runs (see pyodide-worker.mjs).
# These are the first line only: what is left reachable (a JsProxy found by gc.get_objects, say)
# still has no way to run a string as JavaScript, which pyodide-loader.mjs and the worker make sure of.
import sys
import _imp

# The bridge to JavaScript, and ctypes: ctypes reaches every JavaScript function the interpreter
# imports (dlsym of emscripten_run_script_string and the like) and writes the interpreter's memory.
BLOCKED = ("js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "micropip", "ctypes", "_ctypes")
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
# Pyodide's finder of JavaScript modules goes, and a finder that refuses the bridge comes first.
sys.meta_path[:] = [f for f in sys.meta_path if "JsFinder" not in type(f).__name__]


def refusal(name):
    return ImportError("%s is not available: coderouter's WebAssembly sandbox has no bridge to JavaScript" % name)


class CoderouterBlocker:
    blocked = BLOCKED

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in cls.blocked:
            raise refusal(name)
        return None


def guard_create_builtin(create_builtin):
    # _imp.create_builtin(ModuleSpec("_pyodide_core", BuiltinImporter)) would load a blocked built-in
    # past the meta path; the import system calls the guard too, as it looks the function up each time.
    def guarded(spec):
        if str(getattr(spec, "name", "")).split(".")[0] in BLOCKED:
            raise refusal(spec.name)
        return create_builtin(spec)

    return guarded


SAFE_CREATE_BUILTIN = guard_create_builtin(_imp.create_builtin)
del guard_create_builtin
sys.meta_path.insert(0, CoderouterBlocker)
SAFE_META_PATH = list(sys.meta_path)


def restore_protections():
    """Whatever the last execution did to the import system, the next one starts with the bridge cut."""
    sys.meta_path[:] = SAFE_META_PATH
    _imp.create_builtin = SAFE_CREATE_BUILTIN
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]


restore_protections()
