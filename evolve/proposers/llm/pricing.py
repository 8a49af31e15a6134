"""Dollars from tokens: a shipped price table (prices.toml) with per-run overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Price:
    """USD per one million input and output tokens."""

    input_per_m: float
    output_per_m: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_m + tokens_out * self.output_per_m) / 1_000_000


class PriceTable:
    """Looks up `provider/model`; `provider/*` entries cover every model of a provider."""

    def __init__(self, prices: dict[str, Price]):
        self._prices = dict(prices)

    @classmethod
    def load(cls, overrides: dict[str, tuple[float, float]] | None = None, path: Path = SHIPPED) -> "PriceTable":
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
        prices = {
            f"{provider}/{model}": Price(float(pair[0]), float(pair[1]))
            for provider, models in table.items()
            for model, pair in models.items()
        }
        for name, pair in (overrides or {}).items():
            prices[name] = Price(float(pair[0]), float(pair[1]))
        return cls(prices)

    def price(self, model_name: str) -> Price | None:
        """The price of `provider/model`, or None when unknown (tokens still count)."""
        if model_name in self._prices:
            return self._prices[model_name]
        return self._prices.get(model_name.partition("/")[0] + "/*")

    def cost(self, model_name: str, tokens_in: int, tokens_out: int) -> float:
        price = self.price(model_name)
        return price.cost(tokens_in, tokens_out) if price else 0.0
