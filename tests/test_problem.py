"""Problem folder loading: a good folder outside the repository, and broken ones named precisely."""

from __future__ import annotations

import pytest

from evolve.errors import ProblemError
from evolve.problem import load_problem

SEED = "# EVOLVE-BLOCK-START\nX = 1\n# EVOLVE-BLOCK-END\n"
GOOD = """
name = "toy"
seed = "seed.py"
context = "context.md"
[evaluator]
ref = "evaluator.py:make"
stages = ["smoke", "train"]
test_stage = "test"
[objective]
metric = "score"
direction = "minimize"
[baselines]
simple = "base.py"
[[features]]
metric = "x"
min = 0
max = 1
"""


def make(tmp_path, toml: str = GOOD, files=("seed.py", "context.md", "evaluator.py", "base.py")):
    (tmp_path / "problem.toml").write_text(toml)
    for name in files:
        (tmp_path / name).write_text(SEED)
    return tmp_path


def test_good_folder_outside_repo(tmp_path):
    problem = load_problem(make(tmp_path))
    assert problem.name == "toy"
    assert problem.seed_code == SEED
    assert problem.all_stages == ("smoke", "train", "test")
    assert problem.train_stage == "train"
    assert not problem.objective.maximize
    assert problem.baselines["simple"] == tmp_path / "base.py"
    assert problem.evaluator_ref.problem_dir == str(tmp_path)
    assert problem.features[0].bins == 8
    assert len(problem.version()) == 16


@pytest.mark.parametrize(
    "toml, files, expected",
    [
        ("name = [", ("seed.py",), "malformed TOML"),
        ('seed = "seed.py"\n[evaluator]\nref="a:b"', ("seed.py",), "field 'name': required field is missing"),
        ('name="t"\nseed="nope.py"\n[evaluator]\nref="a:b"', (), "field 'seed': file 'nope.py' not found"),
        ('name="t"\nseed="seed.py"\n[evaluator]\nref="nocolon"', ("seed.py",), "field 'evaluator.ref'"),
        ('name="t"\nseed="seed.py"\ncolour=1\n[evaluator]\nref="a:b"', ("seed.py",), "field 'colour': unknown field"),
        (
            'name="t"\nseed="seed.py"\n[evaluator]\nref="a:b"\n[objective]\ndirection="up"',
            ("seed.py",),
            "field 'objective.direction'",
        ),
        ('name="t"\nseed="seed.py"\n[evaluator]\nref="ev.py:x"', ("seed.py",), "field 'evaluator.ref': file 'ev.py'"),
        ('name="t"\nseed="seed.py"\n[evaluator]\nref="a:b"\n[baselines]\ng="g.py"', ("seed.py",), "field 'baselines.g'"),
        ('name="t"\nseed="seed.py"\n[evaluator]\nref="a:b"\n[run]\nislands=0', ("seed.py",), "field 'run.islands'"),
    ],
)
def test_broken_folder_names_file_and_field(tmp_path, toml, files, expected):
    make(tmp_path, toml, files)
    with pytest.raises(ProblemError) as err:
        load_problem(tmp_path)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message
    if "malformed" not in expected:
        assert str(tmp_path / "problem.toml") in message


def test_missing_folder_and_missing_toml(tmp_path):
    with pytest.raises(ProblemError, match="does not exist"):
        load_problem(tmp_path / "absent")
    with pytest.raises(ProblemError, match="problem.toml not found"):
        load_problem(tmp_path)
