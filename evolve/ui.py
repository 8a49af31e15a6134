"""The live view: a pure function from RunStatus to a rich renderable, refreshed on rich's timer.

Only this module and the CLI import rich. On a non-terminal console (CI, pipes) the view prints
one plain line per event instead of redrawing.
"""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from evolve.events import Event, IterationDone, Resumed, RunEnded, RunStarted, RunStatus, Warned


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def render(status: RunStatus) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_row(
        Text(f"{status.done}/{status.requested} iterations", style="bold"),
        ProgressBar(total=max(1, status.requested), completed=status.done, width=40),
        Text(f"{status.elapsed:,.0f} s"),
        Text(_throughput(status)),
    )
    proposer = f"proposer: {status.proposer}"
    if status.proposer_note:
        proposer += f" ({status.proposer_note})"
    calls = f"   LLM calls in flight: up to {status.llm_concurrency}" if status.proposer == "llm" else ""
    setup = Text(f"{proposer}   sandbox: {status.sandbox}   workers: {status.workers}{calls}   {status.order} order", style="yellow")
    for warning in status.warnings:
        setup.append(f"\nwarning: {warning}", style="bold red")
    if status.sandbox_note:
        setup.append(f"\nsandbox {status.sandbox}: {status.sandbox_note}", style="bold red")
    if status.proposer == "llm" or status.spent_usd or status.max_cost_usd:
        setup.append("\n" + spend_line(status), style="cyan")

    scores = Table(title="scores", show_edge=False, expand=False)
    scores.add_column("program")
    scores.add_column("train", justify="right")
    scores.add_row("seed", _fmt(status.seed_score))
    best_label = "best" if status.best_iteration is None else f"best (#{status.best_iteration}, test {_fmt(status.best_test_score)})"
    scores.add_row(Text(best_label, style="bold green"), Text(_fmt(status.best_score), style="bold green"))
    for name, score in status.baselines.items():
        scores.add_row(f"baseline {name}", _fmt(score))

    islands = Table(title="islands", show_edge=False)
    islands.add_column("island")
    islands.add_column("best", justify="right")
    for index, score in sorted(status.island_best.items()):
        islands.add_row(str(index), _fmt(score))

    failures = Table(title="outcomes", show_edge=False)
    failures.add_column("kind")
    failures.add_column("count", justify="right")
    for kind, count in status.statuses.most_common():
        failures.add_row(kind, str(count))
    for reason, count in status.failures.most_common(6):
        if reason in status.statuses:
            continue
        failures.add_row(Text(f"  {reason}", style="red"), str(count))
    for key, count in status.details.most_common(3):
        if key[1]:
            failures.add_row(Text(f"  {key[0]}: {status.examples[key][:60]}", style="red"), str(count))

    middle = Table.grid(padding=(0, 4))
    middle.add_row(scores, islands, failures)
    recent = Text("\n".join(status.recent) or "waiting for the first result...", style="dim", no_wrap=True, overflow="ellipsis")
    title = f"evolve · {status.run} · {status.problem} · {status.state}"
    return Panel(Group(head, setup, Text(""), middle, Text(""), recent), title=title, border_style="blue")


def spend_line(status: RunStatus) -> str:
    """LLM calls, tokens and dollars so far against the budgets (the live view)."""
    cost = f"${status.spent_usd:.4f}"
    if status.max_cost_usd is not None:
        cost += f" of ${status.max_cost_usd:.4g} budget"
    tokens = f"{status.spent_tokens:,} tokens"
    if status.max_tokens is not None:
        tokens += f" of {status.max_tokens:,}"
    return f"LLM spend: {status.calls} calls, {tokens}, {cost}"


def spend_summary(s: dict, config) -> str:
    """The run's whole LLM spend from the store (every session, uncommitted calls included)."""
    line = f"LLM spend: {s['proposer_calls']} calls, {s['tokens_in'] + s['tokens_out']:,} tokens, ${s['cost_usd']:.4f}"
    if config.max_cost_usd is not None:
        line += f" of ${config.max_cost_usd:.4g} budget"
    if s.get("cost_per_improvement") is not None:
        line += f", ${s['cost_per_improvement']:.4f} per improvement ({s['improvements']} improvements)"
    return line


def _throughput(status: RunStatus) -> str:
    if not status.evaluated:
        return ""
    return f"{status.evaluated / max(status.elapsed, 1e-9) * 60:.0f}/min, {status.eval_seconds / status.evaluated:.2f} s each"


class PlainLog:
    """Event sink for non-terminals: one line per event, nothing redrawn."""

    def __init__(self, console: Console, status: RunStatus):
        self.console, self.status = console, status

    def emit(self, event: Event) -> None:
        self.status.emit(event)
        match event:
            case RunStarted():
                note = f" ({event.proposer_note})" if event.proposer_note else ""
                if event.sandbox_note:
                    self.console.print(f"warning: sandbox {event.sandbox}: {event.sandbox_note}", soft_wrap=True)
                self.console.print(
                    f"run {event.run}: {event.problem}, {event.requested} iterations, proposer {event.proposer}{note}, "
                    f"sandbox {event.sandbox}, {event.workloads} workloads, {event.workers} worker(s), {event.order} order",
                    soft_wrap=True,
                )
            case IterationDone():
                best = _fmt(self.status.best_score)
                line = f"[{event.iteration}/{self.status.requested}] {self.status.recent[-1]}  (best {best})"
                self.console.print(line, soft_wrap=True, markup=False)
            case Resumed():
                s = self.status
                self.console.print(
                    f"resumed after iteration {s.done}: seed {_fmt(s.seed_score)}, best {_fmt(s.best_score)} "
                    f"(#{s.best_iteration}), " + ", ".join(f"{k} {v}" for k, v in s.statuses.most_common()),
                    soft_wrap=True, markup=False,
                )  # fmt: skip
            case Warned():
                self.console.print(f"warning: {event.text}", soft_wrap=True, markup=False)
            case RunEnded():
                self.console.print(f"run {event.state}: {event.reason}", soft_wrap=True, markup=False)


@contextmanager
def live_view(console: Console, status: RunStatus):
    """Yield the event sink to hand to the controller; draw live when the console is a terminal."""
    if not console.is_terminal:
        yield PlainLog(console, status)
        return
    with Live(console=console, get_renderable=lambda: render(status), refresh_per_second=4, transient=False):
        yield status


def render_summary(s: dict, show_hint: str = "evolve show RUN") -> RenderableType:
    """`evolve status RUN`: one run's scores against the seed and the baselines, and what failed
    (the commonest failures in one line each, with an iteration to look at)."""
    scores = Table(title=s["problem"], show_edge=False)
    for column in ("program", "train", "held-out test"):
        scores.add_column(column, justify="left" if column == "program" else "right")
    scores.add_row("seed", _fmt(s["seed_score"]), _fmt(s["seed_test_score"]))
    best_label = "best" if s["best_iteration"] is None else f"best (iteration {s['best_iteration']})"
    scores.add_row(Text(best_label, style="bold green"), _fmt(s["best_score"]), _fmt(s["best_test_score"]))
    for name, stages in s["baselines"].items():
        scores.add_row(f"baseline {name}", _fmt(stages.get("train")), _fmt(stages.get("test")))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(s["candidates_by_status"].items())) or "none yet"
    lines = [
        Text(f"run {s['name']} · {s['state']} · {s['iterations_done']}/{s['iterations_requested']} iterations", style="bold"),
        Text(f"problem {s['problem_path']}"),
        Text(f"candidates: {counts}"),
    ]
    reasons = {k: v for k, v in s["failures_by_reason"].items() if k not in s["candidates_by_status"]}
    if reasons:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
        lines.append(Text(f"failures by reason: {listed}", style="red"))
    for f in s.get("top_failures", []):
        lines.append(Text(f"  {f['count']} x {f['reason']}: {f['detail'] or '-'}   (e.g. {show_hint} {f['example_iteration']})", style="red"))
    spend = f"proposer calls {s['proposer_calls']}, tokens {s['tokens_in']} in / {s['tokens_out']} out, ${s['cost_usd']:.4f}"
    if s.get("cost_per_improvement") is not None:
        spend += f", ${s['cost_per_improvement']:.4f} per improvement ({s['improvements']} improvements)"
    lines.append(Text(spend))
    lines.append(Text(f"started {s['created_at'][:19]}, last update {s['updated_at'][:19]}", style="dim"))
    parts = [*lines, Text(""), scores]
    if s.get("models"):
        parts += [Text(""), _models_table(s["models"])]
    if s.get("prompt_variants"):
        parts += [Text(""), _variants_table(s["prompt_variants"])]
    return Group(*parts)


def _variants_table(variants: list[dict]) -> Table:
    table = Table(title="prompt variants (evolve show RUN ITERATION prints one with its guidance)", show_edge=False)
    for column in ("variant", "from", "written at", "calls", "valid", "improved", "best gain"):
        table.add_column(column, justify="left" if column in ("variant", "from") else "right", no_wrap=True)
    for v in variants:
        written = "-" if v["written_at"] is None else str(v["written_at"])
        table.add_row(v["name"], v["parent"] or "-", written, str(v["calls"]), str(v["valid"]), str(v["improved"]), _fmt(v["best_improvement"]))
    return table


def _models_table(models: list[dict]) -> Table:
    table = Table(title="calls by model", show_edge=False)
    table.add_column("model", no_wrap=True)
    for column in ("calls", "retries", "tok in", "tok out", "USD"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("failures", overflow="fold")
    for u in models:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(u["failures"].items())) or "-"
        dollars = "unpriced" if u["unpriced_calls"] == u["calls"] else f"{u['cost_usd']:.4f}" + ("+?" if u["unpriced_calls"] else "")
        table.add_row(
            u["model"], str(u["calls"]), str(u["retries"]), f"{u['tokens_in']:,}", f"{u['tokens_out']:,}", dollars, failures
        )
    return table
