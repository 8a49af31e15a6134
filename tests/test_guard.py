"""The AST guard: the means to tamper with the verifier are rejected in editable regions only."""

from __future__ import annotations

import pytest

from evolve.errors import PatchError
from evolve.guard import GuardPolicy, check_code

FRAME = '''import os

NONE = 0

class Policy:
    # EVOLVE-BLOCK-START
{body}
    # EVOLVE-BLOCK-END
'''


def program(*lines: str) -> str:
    return FRAME.format(body="\n".join("    " + line for line in lines))


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("import evaluators.spot.scoring as s", "import of 'evaluators.spot.scoring'"),
        ("from sandboxes import runner", "import of 'sandboxes'"),
        ("import sys", "import of 'sys'"),
        ("import ctypes", "import of 'ctypes'"),
        ("import gc, inspect", "import of 'gc'"),
        ("from . import x", "import of '.'"),
        ("X = open('/proc/self/fd/1', 'w')", "'open'"),
        ("X = __import__('os')", "'__import__'"),
        ("X = eval('1')", "'eval'"),
        ("X = getattr(NONE, 'real')", "'getattr'"),
        ("X = ().__class__.__base__.__subclasses__()", "'__subclasses__'"),
        ("X = (lambda: 0).__globals__", "'__globals__'"),
        ("import math\n    math.memo = {}", "writing attributes of a module"),
        ("def f(self, obs):\n        type(obs).memo = 1", "type(...)"),
        ("def g(self):\n        yield\n    X = g(None).gi_frame", "'gi_frame'"),
        ("def d(self):\n        try:\n            1 / 0\n        except Exception as e:\n            return e.__traceback__.tb_frame.f_back", "'f_back'"),
    ],
)
def test_means_of_tampering_are_rejected(line, fragment):
    with pytest.raises(PatchError) as err:
        check_code(program(line), GuardPolicy())
    assert err.value.reason == "forbidden"
    assert fragment in str(err.value)


def test_ordinary_policy_code_passes_and_frozen_code_is_trusted():
    code = program(
        "import math",
        "from collections import deque",
        "import numpy as np",
        "def __init__(self, spec):",
        "    super().__init__()",
        "    self.window = deque(maxlen=int(math.ceil(spec.deadline_hours)))",
        "    self.name = type(self).__name__",
    )
    check_code(code, GuardPolicy())  # 'import os' sits in frozen code and is not checked


def test_policy_is_configurable():
    code = program("import json")
    with pytest.raises(PatchError):
        check_code(code, GuardPolicy())
    check_code(code, GuardPolicy().with_imports(("json",)))
    check_code(program("import sys"), GuardPolicy(enabled=False))
