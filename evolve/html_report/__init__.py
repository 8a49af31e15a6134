"""`evolve report`: one self-contained HTML file per run (charts, lineage, every candidate).

Layers: `collect` reads the store into typed values (values.py; one module per view: curves,
ancestry, tree, failures, spend, grid, candidates); `page` renders them with Jinja2 and Plotly;
`build` writes the file. Importing this package imports Plotly, so the CLI imports it lazily.
"""

from evolve.html_report.build import BuiltReport, write_report
from evolve.html_report.collect import collect

__all__ = ["BuiltReport", "collect", "write_report"]
