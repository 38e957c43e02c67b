"""Transactional notices to households (D9, D11, D16, D18): messages the gateway sends on its own
initiative about a household's coverage, whatever its reminder consent.

- candidates: Which households may see a beneficiary's cover start on a day, found in the
  allocations without loading any book (D8, D9).
- cover_starts: The coverage-start notice: one SMS on the day a beneficiary's cover starts
  (waiting period over), caught up within `catch_up_hours`, at most once.
"""

from gateway.services.notices.cover_starts import (
    CoverStartsRun,
    send_cover_starts,
)

__all__ = [
    "CoverStartsRun",
    "send_cover_starts",
]
