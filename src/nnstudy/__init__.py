"""nnstudy: a lab for the fundamentals of deep learning, built on PyTorch.

In Python (`import nnstudy as ns`): ns.run, ns.train, ns.runs, ns.load, ns.sweep, ns.report, the
commands of the same names (see `nnstudy.api`). They load on first use, so `import nnstudy` and the
command line stay as quick to start as before.
"""

import os
import sys
import types

# OpenMP threads that wait for each other sleep instead of spinning: on a machine where another
# process wants a core, a spinning thread takes it from the partner it waits for (nnstudy.threads).
# OpenMP reads this once, when torch loads it: only here, before any torch import, does it count.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_API = ("run", "train", "runs", "load", "sweep", "report", "UsageError")
# Three verbs are also the names of modules (nnstudy/train.py, sweep.py, report): once such a
# module is imported, Python sets it as the package's attribute, hiding the function of that name.
# So those modules become callable instead: `ns.train(...)` calls `nnstudy.api.train`, while
# `nnstudy.train.fit` and `import nnstudy.report` keep meaning the modules.
_VERBS = ("train", "sweep", "report")


class _VerbModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from nnstudy import api

        return getattr(api, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _VERBS and type(value) is types.ModuleType:  # the import system setting a submodule
            value.__class__ = _VerbModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _VERBS:  # importing the module makes it callable (above)
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name in _API:
        from nnstudy import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
