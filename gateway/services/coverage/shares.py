"""What a household pays and what its funder owes (D3), and levies on earned contributions (D4)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.models import Product


@dataclass(frozen=True)
class Shares:
    """Per beneficiary and period (contribution) and per household (registration fee)."""

    member_share_pct: int
    funder_code: str | None
    contribution_member: int
    contribution_funder: int
    registration_member: int
    registration_funder: int

    @property
    def fully_subsidised(self) -> bool:
        """D3: a share of 0 means the funder pays every period automatically."""
        return self.member_share_pct == 0


def _ceil_share(amount: int, pct: int) -> int:
    return -(-amount * pct // 100)


def shares_for(product: Product, category: str) -> Shares:
    subsidy = product.subsidy_for(category)
    pct = 100 if subsidy is None else subsidy.member_share
    funder = subsidy.funder.code if subsidy is not None and subsidy.funder is not None else None
    contribution_member = _ceil_share(product.contribution, pct)
    registration_member = _ceil_share(product.registration_fee, pct)
    return Shares(
        member_share_pct=pct,
        funder_code=funder,
        contribution_member=contribution_member,
        contribution_funder=product.contribution - contribution_member,
        registration_member=registration_member,
        registration_funder=product.registration_fee - registration_member,
    )


def levy_amounts(product: Product, earned: int) -> list[tuple[str, int]]:
    """D4: each levy's share of an earned contribution, rounded down to whole francs."""
    amounts = [(levy.name, earned * levy.basis_points // 10_000) for levy in product.levies]
    return [(name, amount) for name, amount in amounts if amount > 0]
