"""See a run: `gankit report RUN` (one self-contained HTML page) and `gankit compare RUN…`."""
from .compare import compare, compare_runs
from .run import build_report

__all__ = ["build_report", "compare", "compare_runs"]
