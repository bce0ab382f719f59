"""docs/tensor-basics.md is an executable tutorial: every example in it must produce its output."""

import doctest
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tensor-basics.md"


def test_tensor_basics_tutorial_runs():
    result = doctest.testfile(str(TUTORIAL), module_relative=False, verbose=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (see output above)"
