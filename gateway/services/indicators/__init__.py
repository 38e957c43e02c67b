"""D22 indicators (issue 17): computed by a job into the `indicators` table as numerators and
denominators per mutual, section and period, recomputed where writes marked them dirty, and
read with exact roll-ups per mutual, section, union and deployment. docs/indicators.md lists
the codes and their formulas."""

from gateway.services.indicators.codes import CODES, NOT_AVAILABLE, Kind, kind_of, value
from gateway.services.indicators.compute import POSTGRES_SETTINGS, compute, earliest, recompute
from gateway.services.indicators.dirty import mark_dirty, recompute_dirty
from gateway.services.indicators.periods import BadPeriod, Period, parse_period, periods_between
from gateway.services.indicators.read import (
    Figure,
    IndicatorError,
    computed_at,
    find_mutual,
    find_section,
    read_by_section,
    read_figures,
    union_mutuals,
)
from gateway.services.indicators.targets import set_target, targets_of

__all__ = [
    "CODES",
    "NOT_AVAILABLE",
    "POSTGRES_SETTINGS",
    "BadPeriod",
    "Figure",
    "IndicatorError",
    "Kind",
    "Period",
    "compute",
    "computed_at",
    "earliest",
    "find_mutual",
    "find_section",
    "kind_of",
    "mark_dirty",
    "parse_period",
    "periods_between",
    "read_by_section",
    "read_figures",
    "recompute",
    "recompute_dirty",
    "set_target",
    "targets_of",
    "union_mutuals",
    "value",
]
