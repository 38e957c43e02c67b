"""The figures being computed: (mutual, section, period, code, key) -> [numerator, denominator]."""

from __future__ import annotations

from collections import defaultdict

FigureKey = tuple[int, int | None, str, str, str]


class Figures(defaultdict[FigureKey, list[int]]):
    """Summed as they are added, so that several sources of one figure add up exactly."""

    def __init__(self) -> None:
        super().__init__(lambda: [0, 0])

    def add(
        self,
        mutual_id: int,
        section_id: int | None,
        period: str,
        code: str,
        numerator: int,
        denominator: int = 1,
        key: str = "",
    ) -> None:
        cell = self[(mutual_id, section_id, period, code, key)]
        cell[0] += int(numerator)
        cell[1] += int(denominator)

    def count(
        self, mutual_id: int, section_id: int | None, period: str, code: str, n: int, key: str = ""
    ) -> None:
        """A count's denominator stays 1 however many sources add to it."""
        cell = self[(mutual_id, section_id, period, code, key)]
        cell[0] += int(n)
        cell[1] = 1
