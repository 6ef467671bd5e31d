"""The simulated Stripe's hosted pages: Checkout, the Customer Portal and an invoice (pt-BR).

Plain HTML forms a person (or a browser test) clicks, with stable ``data-testid`` attributes:
``stripe-pay`` and ``stripe-checkout-cancel`` on Checkout; ``stripe-portal-cancel``,
``stripe-portal-return`` and ``stripe-portal-invoice`` on the portal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from emulators.simulator.routing import Response
from emulators.simulator.stripe_objects import brazilian_date, reais

STATUS_NAMES = {
    "active": "ativa",
    "trialing": "em teste",
    "past_due": "pagamento pendente",
    "unpaid": "não paga",
    "canceled": "cancelada",
    "incomplete": "incompleta",
}


def checkout_page(session: Mapping[str, Any], price: Mapping[str, Any], quantity: int) -> Response:
    """Return Checkout for an open session: the plan, its price, pay or go back."""
    session_id = escape(session["id"])
    cancel = session.get("cancel_url")
    cancel_link = (
        f'<a data-testid="stripe-checkout-cancel" href="{escape(cancel)}">Cancelar</a>'
        if cancel
        else ""
    )
    who = session.get("customer_email") or ""
    body = f"""
<h1>Assinar {escape(price["nickname"])}</h1>
<p data-testid="stripe-plan">Plano <strong>{escape(price["nickname"])}</strong></p>
<p data-testid="stripe-price">{reais(price["unit_amount"] * quantity)} por mês</p>
<p>{escape(who)}</p>
<p>Cartão de teste 4242 4242 4242 4242 (simulador: nenhum pagamento real).</p>
<form method="post" action="/stripe/checkout/{session_id}/pay">
  <button type="submit" data-testid="stripe-pay">Assinar</button>
</form>
<p>{cancel_link}</p>"""
    return _page("Checkout — Stripe (simulador)", body)


def checkout_done_page(session: Mapping[str, Any]) -> Response:
    """Return what a completed session shows when it has no success URL."""
    return _page(
        "Pagamento concluído",
        f"<h1>Pagamento concluído</h1><p>Assinatura {escape(str(session['subscription']))}.</p>",
    )


def portal_page(
    session: Mapping[str, Any],
    customer: Mapping[str, Any],
    subscription: Mapping[str, Any] | None,
    invoices: Sequence[Mapping[str, Any]],
) -> Response:
    """Return the Customer Portal: the current plan, the invoices, cancel and go back."""
    session_id = escape(session["id"])
    if subscription is None:
        plan = '<p data-testid="stripe-portal-plan">Nenhuma assinatura.</p>'
        cancel = ""
    else:
        item = subscription["items"]["data"][0]
        price = item["price"]
        status = STATUS_NAMES.get(subscription["status"], subscription["status"])
        plan = (
            f'<p data-testid="stripe-portal-plan">Plano <strong>{escape(price["nickname"])}'
            f"</strong> — {reais(price['unit_amount'] * item['quantity'])} por mês</p>"
            f'<p data-testid="stripe-portal-status">Assinatura {escape(status)}; período atual até '
            f"{brazilian_date(item['current_period_end'])}</p>"
        )
        cancel = (
            ""
            if subscription["status"] == "canceled"
            else f"""<form method="post" action="/stripe/portal/{session_id}/cancel">
  <button type="submit" data-testid="stripe-portal-cancel">Cancelar assinatura</button>
</form>"""
        )
    rows = "".join(_invoice_row(invoice) for invoice in invoices)
    invoices_html = f"<ul>{rows}</ul>" if rows else "<p>Nenhuma fatura.</p>"
    back = session.get("return_url")
    back_link = (
        f'<a data-testid="stripe-portal-return" href="{escape(back)}">Voltar</a>' if back else ""
    )
    who = escape(customer.get("name") or customer.get("email") or customer["id"])
    body = f"""
<h1>Sua assinatura</h1>
<p>{who}</p>
{plan}
{cancel}
<h2>Faturas</h2>
{invoices_html}
<p>{back_link}</p>"""
    return _page("Portal do cliente — Stripe (simulador)", body)


def _invoice_row(invoice: Mapping[str, Any]) -> str:
    link = escape(invoice["hosted_invoice_url"])
    status = "paga" if invoice["status"] == "paid" else "em aberto"
    return (
        f'<li><a data-testid="stripe-portal-invoice" href="{link}">{escape(invoice["number"])}'
        f"</a> — {brazilian_date(invoice['created'])} — {reais(invoice['total'])} — {status}</li>"
    )


def invoice_page(invoice: Mapping[str, Any]) -> Response:
    """Return an invoice as its hosted page shows it."""
    line = invoice["lines"]["data"][0]
    status = "Paga" if invoice["status"] == "paid" else "Em aberto"
    body = f"""
<h1>Fatura {escape(invoice["number"])}</h1>
<p data-testid="stripe-invoice-status">{status}</p>
<p>{escape(invoice.get("customer_name") or invoice.get("customer_email") or "")}</p>
<p>{escape(line["description"])}</p>
<p>Período: {brazilian_date(line["period"]["start"])} a {brazilian_date(line["period"]["end"])}</p>
<p data-testid="stripe-invoice-total">Total: {reais(invoice["total"])}</p>"""
    return _page(f"Fatura {invoice['number']}", body)


def not_found_page(message: str) -> Response:
    """Return a 404 page."""
    return _page("Página não encontrada", f"<h1>{escape(message)}</h1>", status=404)


def _page(title: str, body: str, status: int = 200) -> Response:
    document = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 2rem auto">{body}
</body></html>"""
    return Response(status, document.encode(), "text/html; charset=utf-8")
