"""The Can't Be Late simulator's strategy interface (`sky_spot`), rebuilt in the candidate's process.

A published strategy subclasses `sky_spot.strategies.strategy.Strategy` (or `...multi_strategy.
MultiRegionStrategy`), reads `self.env`, `self.task_done_time`, `self.remaining_restart_overhead`
... and returns a ClusterType from `_step`. `strategy_policy(source)` imports such a program
with these stand-ins installed and wraps its strategy as our `Policy`: every tick it copies the
observation (what the original's env and Strategy.step would hold at that moment) onto the
strategy, calls `_step`, and answers the decision and the region the strategy left the env in.
The safety net, progress, restarts and cost are applied by the evaluator, never here: a
strategy that writes to its own attributes changes nothing but its own view. Under our strict
model the observation carries less (only the current region's spot, hours instead of seconds):
the strategy then sees other regions as without spot and the rest derived from what is shown.
"""

from __future__ import annotations

import argparse
import enum
import sys
import types

CODES = {"NONE": 0, "SPOT": 1, "ON_DEMAND": 2}


class ClusterType(str, enum.Enum):
    NONE = enum.auto()
    SPOT = enum.auto()
    ON_DEMAND = enum.auto()


BY_CODE = {code: ClusterType[name] for name, code in CODES.items()}
NONE_CODE = CODES["NONE"]
COSTS = {ClusterType.ON_DEMAND: 3.06, ClusterType.SPOT: 0.9731, ClusterType.NONE: 0}


class Task:
    """A single task of `hours`; progress is the strategy's task_done_time list."""

    def __init__(self, hours: float):
        self._seconds = float(hours) * 3600.0
        self._progress: list = []

    def set_progress_source(self, progress: list) -> None:
        self._progress = progress

    def get_total_duration_seconds(self) -> float:
        return self._seconds

    def get_total_duration_hours(self) -> float:
        return self._seconds / 3600.0

    def get_remaining_duration_seconds(self) -> float:
        return max(0.0, self._seconds - sum(self._progress))

    @property
    def is_done(self) -> bool:
        return self.get_remaining_duration_seconds() <= 1e-8

    def get_info(self) -> dict:
        return {"task_type": "SingleTask", "Done(seconds)": sum(self._progress)}


class Env:
    """What the original env shows a strategy during its tick: the present of every region."""

    def __init__(self, gap_seconds, num_regions: int):
        self.gap_seconds = gap_seconds
        self.num_regions = num_regions
        self.tick = 0
        self.cluster_type = ClusterType.NONE
        self.current_region = 0
        self._spot: list = [False] * num_regions
        self._prices: list = [0.0] * num_regions

    @property
    def elapsed_seconds(self):
        return self.tick * self.gap_seconds

    def spot_available(self) -> bool:
        return self._spot[self.current_region]

    def spot_available_in_region(self, region_idx: int) -> bool:
        assert 0 <= region_idx < self.num_regions, f"Region index {region_idx} out of range"
        return self._spot[region_idx]

    def get_all_regions_spot_available(self) -> list:
        return list(self._spot)

    def get_all_regions_spot_prices(self) -> list:
        return [p if s else None for s, p in zip(self._spot, self._prices)]

    def get_all_regions_ondemand_prices(self) -> list:
        return [COSTS[ClusterType.ON_DEMAND]] * self.num_regions

    def get_price(self) -> dict:
        return {ClusterType.ON_DEMAND: COSTS[ClusterType.ON_DEMAND], ClusterType.SPOT: self._prices[self.current_region], ClusterType.NONE: 0.0}

    get_constant_cost_map = get_price

    def get_num_regions(self) -> int:
        return self.num_regions

    def get_current_region(self) -> int:
        return self.current_region

    def switch_region(self, region_idx: int) -> bool:
        assert 0 <= region_idx < self.num_regions, f"Region index {region_idx} out of range"
        self.current_region = region_idx
        return True


class Strategy:
    NAME = "abstract"

    def __init__(self, args):
        self.args = args

    def reset(self, env, task) -> None:
        args = self.args
        self.task = task
        self.deadline = args.deadline_hours * 3600
        self.task_duration = task.get_total_duration_seconds()
        self.restart_overheads = [oh * 3600 for oh in args.restart_overhead_hours]
        self.restart_overhead = self.restart_overheads[0]
        self.inter_task_overheads = [oh * 3600 for oh in getattr(args, "inter_task_overhead", [0.0])]
        self.inter_task_overhead = self.inter_task_overheads[0]
        self.task_done_time = []
        task.set_progress_source(self.task_done_time)
        self.remaining_restart_overhead = 0.0
        self.remaining_inter_task_overhead = 0
        self._last_known_subtask_index = -1
        self.env = env

    @property
    def task_done(self) -> bool:
        return self.task.is_done

    @property
    def name(self) -> str:
        return self.NAME

    def _before_decision_hook(self, last_cluster_type, request_type) -> None:
        pass

    def _step(self, last_cluster_type, has_spot):
        raise NotImplementedError

    @classmethod
    def _from_args(cls, parser):
        raise NotImplementedError


class MultiRegionStrategy(Strategy):
    NAME = "multi_region_strategy"

    def __init__(self, args):
        super().__init__(args)
        self.last_startup_region = None
        self.migration_overhead_seconds = getattr(args, "region_switch_overhead_hours", 0.0) * 3600

    @classmethod
    def _from_args(cls, parser):
        group = parser.add_argument_group(cls.NAME)
        group.add_argument("--region-switch-overhead-hours", type=float, default=0.0)
        group.add_argument("--inter-task-overhead", type=float, default=[0.0], nargs="+")
        args, _ = parser.parse_known_args()
        return cls(args)


class _Parser(argparse.ArgumentParser):
    """The original evaluator's parser: parse_known_args() reads a preset command line."""

    def __init__(self, argv: list[str]):
        super().__init__(prog="sky_spot", add_help=False)
        self._argv = argv
        self.add_argument("--deadline-hours", type=float, default=52.0)
        self.add_argument("--task-duration-hours", type=float, nargs="+", default=[48.0])
        self.add_argument("--restart-overhead-hours", type=float, nargs="+", default=[0.0])
        self.add_argument("--env-start-hours", type=float, default=0.0)
        self.add_argument("--output-dir", type=str, default="exp")
        self.add_argument("--trace-file", type=str)
        self.add_argument("--strategy-file", type=str)
        self.add_argument("--checkpoint-size-gb", type=float, default=50.0)
        self.add_argument("--strategy", type=str, default="custom")
        self.add_argument("--env", type=str, default="trace")
        self.add_argument("--silent", action="store_true")

    def parse_known_args(self, args=None, namespace=None):
        return super().parse_known_args(self._argv if args is None else args, namespace)


def install() -> None:
    """Put the stand-in modules where a published program imports them from."""
    strategy = _module("sky_spot.strategies.strategy", Strategy=Strategy, MultiRegionStrategy=MultiRegionStrategy)
    multi = _module("sky_spot.strategies.multi_strategy", MultiRegionStrategy=MultiRegionStrategy)
    utils = _module("sky_spot.utils", ClusterType=ClusterType, COSTS=COSTS)
    strategies = _module("sky_spot.strategies", strategy=strategy, multi_strategy=multi)
    _module("sky_spot", strategies=strategies, utils=utils, env=_module("sky_spot.env", Env=Env), task=_module("sky_spot.task", Task=Task))
    _module("configargparse", Namespace=argparse.Namespace, ArgumentParser=argparse.ArgumentParser)


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def strategy_policy(source: str, multi_region: bool = False) -> type:
    """A Policy class running the first strategy the published `source` defines (found as the
    original evaluator finds it: first in definition order, or, multi-region, by name)."""
    install()
    module = types.ModuleType("published_strategy")
    sys.modules[module.__name__] = module
    exec(compile(source, "<published strategy>", "exec"), module.__dict__)
    if multi_region:
        found = [getattr(module, n) for n in dir(module) if _is_strategy(getattr(module, n)) and getattr(module, n).__module__ == module.__name__]
    else:
        found = [v for v in list(module.__dict__.values()) if _is_strategy(v)]
    if not found:
        raise TypeError("the published program defines no Strategy subclass")
    return type("Policy", (_StrategyPolicy,), {"strategy_class": found[0], "multi_region": multi_region})


def _is_strategy(value) -> bool:
    return isinstance(value, type) and issubclass(value, Strategy) and value not in (Strategy, MultiRegionStrategy)


class _StrategyPolicy:
    strategy_class: type = Strategy
    multi_region = False

    def __init__(self, spec):
        gap = round(spec.tick_hours * 3600)
        argv = ["--deadline-hours", repr(spec.deadline_hours), "--task-duration-hours", repr(spec.job_hours),
                "--restart-overhead-hours", repr(spec.restart_overhead_hours), "--env", "multi_trace" if self.multi_region else "trace",
                "--env-start-hours", "0", "--silent"]  # fmt: skip
        self.strategy = self.strategy_class._from_args(_Parser(argv))
        self.env = Env(gap, int(spec.num_regions))
        self.spot_price = spec.spot_price
        task = Task(spec.job_hours)
        self.strategy.reset(self.env, task)  # twice, as the original's simulate() does
        self.strategy.reset(self.env, task)

    def decide(self, obs):
        env, strategy = self.env, self.strategy
        env.tick, env.current_region = obs.tick, obs.region
        last = BY_CODE[obs.last_cluster]
        preempted = last == ClusterType.SPOT and not obs.spot_available
        env.cluster_type = BY_CODE[getattr(obs, "cluster", NONE_CODE if preempted else obs.last_cluster)]
        regions = range(env.num_regions)
        shown = getattr(obs, "spot_available_regions", None)
        env._spot = [bool(shown[r]) if shown is not None else (r == obs.region and bool(obs.spot_available)) for r in regions]
        prices = getattr(obs, "spot_price_regions", None)
        env._prices = [float(prices[r]) if prices is not None else self.spot_price for r in regions]
        progress = getattr(obs, "tick_progress_seconds", None)
        if progress is None:  # our model shows the work done, in hours
            progress = round(obs.work_done_hours * 3600, 6) - sum(strategy.task_done_time)
        strategy.task_done_time.append(progress)
        strategy.remaining_restart_overhead = getattr(obs, "pending_overhead_seconds", obs.pending_overhead_hours * 3600)
        decision = strategy._step(last, bool(obs.spot_available))
        strategy._before_decision_hook(last, decision)
        code = CODES[decision.name] if isinstance(decision, ClusterType) else -1
        return [code, env.current_region] if self.multi_region else code
