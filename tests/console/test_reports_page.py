"""`/console/reports` (console.md, D25, issue 17): funder and levy statements (printable page
and CSV) with payments recorded by finance (a reason, one operator_actions row, CSRF, an
overpayment refused); defaulters with masked phones revealed only by a logged POST; the
covered list; member cards as a PDF; everything inside the operator's scope."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import FunderPayment, LevyRemittance, Role, ScopeKind
from gateway.services import ledger, reports
from gateway.services.operators import ScopeRef
from tests.support.console import actions, make_user, post, sign_in, signed
from tests.support.paths import DATA
from tests.support.reports import Scenario, build

ALL = ScopeRef(ScopeKind.ALL)


def _two(db: Session) -> tuple[Scenario, Scenario]:
    db.expire_on_commit = False
    a, b = build(db, "MA"), build(db, "MB")
    db.commit()
    return a, b


def _mutual(s: Scenario) -> ScopeRef:
    return ScopeRef(ScopeKind.MUTUAL, mutual_id=s.mutual.id)


def _html(client: FlaskClient, url: str) -> str:
    reply = client.get(url)
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def test_funder_statement_and_payment(console_app: Flask, db: Session) -> None:
    a, b = _two(db)
    client = signed(console_app, db, "fin@ma.bf", Role.FINANCE, _mutual(a))
    state = a.mutual.funders[0]
    index = _html(client, "/console/reports")
    assert f"/console/reports/funders/{state.id}" in index
    assert f"/console/reports/funders/{b.mutual.funders[0].id}" not in index
    url = f"/console/reports/funders/{state.id}?period=2026"
    page = _html(client, url)
    assert 'id="owed">13 500 XOF' in page and page.count('class="line"') == 5
    csv = client.get(url + "&format=csv")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).count("\n") == 6
    pay = f"/console/reports/funders/{state.id}/pay?period=2026"
    form = {"amount": "10000", "reference": "VIR-1", "paid_on": "2026-02-27", "reason": "virement"}
    assert post(client, pay, {**form, "reason": ""}).status_code == 302  # refused: no reason
    assert post(client, pay, form).status_code == 302
    assert post(client, pay, form).status_code == 302  # the same reference: a no-op
    over = post(client, pay, {**form, "reference": "VIR-2", "amount": "3501"}, follow=True)
    assert "overpayment refused" in over.get_data(as_text=True)
    bad_day = post(client, pay, {**form, "reference": "VIR-3", "paid_on": "27/02"}, follow=True)
    assert "must be YYYY-MM-DD" in bad_day.get_data(as_text=True)
    rows = [r for r in actions(db) if r.action == "funder.payment"]
    assert len(rows) == 1 and rows[0].reason == "virement" and rows[0].mutual_id == a.mutual.id
    assert rows[0].after == {
        "amount": 10000,
        "reference": "VIR-1",
        "period": "2026",
        "outstanding": 3500,
    }
    assert db.scalar(select(func.count()).select_from(FunderPayment)) == 1
    assert reports.receivable_position(db, state) == (3500, 3500)
    assert ledger.audit(db) == []
    db.rollback()  # SQLite: the app's session writes next
    assert 'id="outstanding">3 500 XOF' in _html(client, url)
    assert client.get(f"/console/reports/funders/{state.id}?period=26").status_code == 400


def test_only_finance_records_money_and_only_inside_the_scope(
    console_app: Flask, db: Session
) -> None:
    a, b = _two(db)
    state = a.mutual.funders[0]
    pay = f"/console/reports/funders/{state.id}/pay?period=2026"
    form = {"amount": "100", "reference": "R", "reason": "r"}
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, _mutual(a))
    assert post(manager, pay, form).status_code == 403
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, _mutual(a))
    assert 'id="owed"' in _html(viewer, f"/console/reports/funders/{state.id}?period=2026")
    other = signed(console_app, db, "fin@mb.bf", Role.FINANCE, _mutual(b))
    assert other.get(f"/console/reports/funders/{state.id}?period=2026").status_code == 404
    assert post(other, pay, form).status_code == 404
    assert other.get(f"/console/reports/levies/{a.mutual.id}/FGN?period=2026").status_code == 404
    section = ScopeRef(ScopeKind.SECTION, mutual_id=a.mutual.id, section_id=a.sud.id)
    local = signed(console_app, db, "sud@ma.bf", Role.MANAGER, section)
    assert local.get(f"/console/reports/funders/{state.id}?period=2026").status_code == 404
    assert local.get(f"/console/reports/levies/{a.mutual.id}/FGN?period=2026").status_code == 404
    owing = _html(local, f"/console/reports/defaulters?mutual={a.mutual.id}&period=2027")
    assert owing.count('class="row"') == 1 and "1004" in owing  # their section only
    assert db.scalar(select(func.count()).select_from(FunderPayment)) == 0


def test_levy_statement_and_remittance(console_app: Flask, db: Session) -> None:
    a, _ = _two(db)
    client = signed(console_app, db, "fin@ma.bf", Role.FINANCE, _mutual(a))
    assert f"/console/reports/levies/{a.mutual.id}/FGN" in _html(client, "/console/reports")
    url = f"/console/reports/levies/{a.mutual.id}/FGN?period=2026"
    assert 'id="owed">720 XOF' in _html(client, url)
    assert client.get(url + "&format=csv").get_data(as_text=True).count("\n") == 4
    remit = f"/console/reports/levies/{a.mutual.id}/FGN/remit?period=2026"
    form = {"amount": "720", "reference": "FGN-1", "reason": "reversement annuel"}
    assert post(client, remit, form).status_code == 302
    over = post(client, remit, {**form, "reference": "FGN-2", "amount": "1"}, follow=True)
    assert "over-remittance refused" in over.get_data(as_text=True)
    assert post(client, remit, {"amount": "x", "reason": "r"}).status_code == 302
    assert [r.action for r in actions(db) if r.action.startswith("levy")] == ["levy.remittance"]
    assert client.get(f"/console/reports/levies/{a.mutual.id}/NOPE?period=2026").status_code == 404
    assert db.scalar(select(func.count()).select_from(LevyRemittance)) == 1


def test_defaulters_phones_masked_until_revealed_and_logged(
    console_app: Flask, db: Session
) -> None:
    a, _ = _two(db)
    client = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, _mutual(a))
    query = f"mutual={a.mutual.id}&section={a.nord.id}&period=2027"
    page = _html(client, f"/console/reports/defaulters?{query}")
    assert "+22670****03" in page and "+22670000003" not in page
    assert page.count('class="row"') == 2  # 1001, 1003 (1002: indigent, never behind)
    masked = client.get(f"/console/reports/defaulters?{query}&format=csv").get_data(as_text=True)
    assert "+22670000003" not in masked
    form = {"mutual": str(a.mutual.id), "section": str(a.nord.id), "period": "2027"}
    assert post(client, "/console/reports/defaulters/phones", form).status_code == 400
    shown = post(client, "/console/reports/defaulters/phones", {**form, "reason": "tournée"})
    assert "+22670000003" in shown.get_data(as_text=True)
    full = post(
        client, "/console/reports/defaulters/phones", {**form, "reason": "r", "format": "csv"}
    )
    golden = (DATA / "reports" / "defaulters_2027.csv").read_text().splitlines()
    assert full.get_data(as_text=True).splitlines() == golden[:3]  # Nord's rows
    logged = [r for r in actions(db) if r.action == "report.defaulters_phones"]
    assert [r.after["csv"] for r in logged if r.after] == [False, True]
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, _mutual(a))
    assert (
        post(viewer, "/console/reports/defaulters/phones", {**form, "reason": "r"}).status_code
        == 403
    )


def test_covered_list_and_cards(console_app: Flask, db: Session) -> None:
    a, b = _two(db)
    client = signed(console_app, db, "vue@fed.bf", Role.VIEWER, ALL)
    covered = f"/console/reports/covered?mutual={a.mutual.id}&period=2026-04"
    assert _html(client, covered).count('class="row"') == 4
    csv = client.get(covered + "&format=csv").get_data(as_text=True)
    assert csv == (DATA / "reports" / "covered_2026-04.csv").read_text()
    assert client.get(f"/console/reports/covered?mutual={a.mutual.id}&period=x").status_code == 400
    assert (
        client.get(f"/console/reports/covered?mutual={a.mutual.id}&section={b.nord.id}").status_code
        == 404
    )
    assert f'value="{a.facility.id}"' in _html(client, "/console/reports")
    catchment = f"/console/reports/covered?mutual={a.mutual.id}&period=2026-04&facility="
    assert _html(client, catchment + str(a.facility.id)).count('class="row"') == 1
    assert client.get(catchment + str(b.facility.id)).status_code == 404
    pdf = client.get(f"/console/reports/cards?mutual={a.mutual.id}&section={a.nord.id}")
    assert pdf.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.get_data())).pages) == 3
    one = client.get(f"/console/reports/cards?mutual={a.mutual.id}&household=1001")
    assert "100102" in PdfReader(io.BytesIO(one.get_data())).pages[0].extract_text()
    assert client.get(f"/console/reports/cards?mutual={a.mutual.id}&household=9").status_code == 404
    assert client.get(f"/console/reports/cards?mutual={a.mutual.id}").status_code == 400
    for bad in ("99999999999999999999", "x", "-1"):
        assert client.get(f"/console/reports/covered?mutual={bad}").status_code == 400


def test_the_page_speaks_french(console_app: Flask, db: Session) -> None:
    a, _ = _two(db)
    make_user(db, "fr@ma.bf", Role.FINANCE, _mutual(a), language="fr")
    db.commit()
    client = console_app.test_client()
    sign_in(client, "fr@ma.bf")
    page = _html(client, "/console/reports")
    assert "Relevés des financeurs" in page and "Rapports" in page
    statement = _html(client, f"/console/reports/funders/{a.mutual.funders[0].id}?period=2026")
    assert "Enregistrer un paiement du financeur" in statement
