"""Products (garanties) with their D1-D4 settings, subsidies and levies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, IdMixin, Money
from gateway.models.mutual import Funder, Mutual


class Product(IdMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("mutual_id", "code"),
        CheckConstraint("period IN ('year', 'month')", name="period"),
        CheckConstraint("contribution >= 0 AND registration_fee >= 0", name="amounts"),
        CheckConstraint(
            "waiting_days >= 0 AND grace_days >= 0 AND join_window_days >= 0", name="days"
        ),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(8), default="year")
    contribution: Mapped[int] = mapped_column(Money)  # XOF per beneficiary per period
    registration_fee: Mapped[int] = mapped_column(Money, default=0)  # XOF per household, once
    waiting_days: Mapped[int] = mapped_column(default=0)
    grace_days: Mapped[int] = mapped_column(default=0)
    join_window_days: Mapped[int] = mapped_column(default=0)
    # D6b: a renewal is offered once the current period ends within this many days.
    renewal_notice_days: Mapped[int] = mapped_column(default=60, server_default="60")
    coverage_start: Mapped[str] = mapped_column(String(5), default="01-01")  # MM-DD
    installments: Mapped[bool] = mapped_column(default=True)
    newborn_waiting: Mapped[bool] = mapped_column(default=True)
    copay: Mapped[dict[str, Any]] = mapped_column(default=dict)  # level of care -> percent

    mutual: Mapped[Mutual] = relationship(back_populates="products")
    subsidies: Mapped[list[Subsidy]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Subsidy.id"
    )
    levies: Mapped[list[Levy]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Levy.id"
    )

    def subsidy_for(self, category: str) -> Subsidy | None:
        return next((s for s in self.subsidies if s.category == category), None)


class Subsidy(IdMixin, Base):
    """D3: a category of households pays `member_share` percent; `funder` owes the rest."""

    __tablename__ = "subsidies"
    __table_args__ = (
        UniqueConstraint("product_id", "category"),
        CheckConstraint("member_share BETWEEN 0 AND 100", name="share"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    member_share: Mapped[int] = mapped_column()
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funders.id"))

    product: Mapped[Product] = relationship(back_populates="subsidies")
    funder: Mapped[Funder | None] = relationship()


class Levy(IdMixin, Base):
    """D4: share of earned contributions moved to a levy account, in basis points."""

    __tablename__ = "levies"
    __table_args__ = (
        UniqueConstraint("product_id", "name"),
        CheckConstraint("basis_points BETWEEN 0 AND 10000", name="bp"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    basis_points: Mapped[int] = mapped_column()  # 3% = 300

    product: Mapped[Product] = relationship(back_populates="levies")
