"""The life of an order as a sequence of steps, and the rules each step must pass.

Nothing is edited or deleted: an order *is* its steps (:class:`Step`: who, when, what), and its
current state is what :func:`replay` folds them into. A new step is made by :func:`decide`,
which checks it against the state, the agreement and the actor, and returns the step and the
ledger transaction(s) it posts; :func:`apply` is the fold. Both are pure (no I/O).

States::

    draft -submit-> submitted -accept-> accepted -deliver-> delivered -receive-> ...
                              -reject-> rejected
    draft | submitted | accepted (nothing delivered) -cancel-> cancelled
    delivered <-> invoiced <-> settled (by the amounts still pending and owed) -close-> closed

``delivered`` while something is owed and not all of it invoiced; ``invoiced`` while all that is
owed is invoiced; ``settled`` when nothing is owed and no delivery awaits its receipt (a further
delivery brings it back to ``delivered``); ``closed`` ends it (what was not delivered is no
longer expected).

Duties (the actor must belong to the organisation named, have role ``analyst`` or above, and
separation of duties is checked by person):

=========  =========  ===============================================================
step       by         and not by
=========  =========  ===============================================================
create     requester
submit     requester
cancel     either     (only before anything is delivered)
override   provider   (role ``admin``; a reason is required)
accept     provider   whoever created or submitted the order
reject     provider
deliver    provider
receive    requester  whoever accepted the order
invoice    provider
settle     requester  whoever confirmed a receipt of the order
confirm    provider   whoever recorded the settlement confirmed (payment received)
reverse    the party that took the step reversed, not the person who took it
close      provider
=========  =========  ===============================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Final

from seasight.access.caller import Caller
from seasight.logistics.agreements import LogisticsAgreement, fiscal_year, parse_date
from seasight.logistics.codes import check_method
from seasight.logistics.errors import ConflictError, DutyError, LogisticsError
from seasight.logistics.ledger import (
    Transaction,
    allocate,
    exchange_counterpart,
    invoice,
    obligation,
    reversal,
    settlement,
)
from seasight.logistics.money import currency, line_amount, parse_quantity, to_minor
from seasight.logistics.orders import Order, adjust, order_from_json
from seasight.logistics.rates import RateTable

STATES: Final = ("draft", "submitted", "accepted", "rejected", "cancelled", "delivered",
                 "invoiced", "settled", "closed")
STEP_KINDS: Final = ("create", "submit", "cancel", "override", "accept", "reject", "deliver",
                     "receive", "invoice", "settle", "exchange", "reverse", "close",
                     "confirm")


@dataclass(frozen=True)
class Step:
    """One step of an order's history. ``payload`` is JSON-able; ``seq`` counts from 1."""

    order_id: str
    seq: int
    kind: str
    actor: str
    actor_org: str
    at: datetime
    on: date
    payload: Mapping[str, Any]


@dataclass
class OrderState:
    """What the steps of an order add up to."""

    order: Order
    state: str = "draft"
    seq: int = 0
    created_by: str = ""
    submitted_by: str = ""
    accepted_by: str = ""
    receivers: set[str] = field(default_factory=set)
    override: str | None = None
    ceiling_minor: int = 0  # value counted against the provider's ceiling (accept)
    ceiling_fy: int | None = None
    delivered: dict[str, dict[int, int]] = field(default_factory=dict)  # delivery -> line -> qty
    received: dict[str, dict[int, int]] = field(default_factory=dict)
    written_off: dict[str, dict[int, int]] = field(default_factory=dict)
    line_received: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    line_obligation: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    line_replaced: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    line_replaced_minor: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    owed: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    uninvoiced: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    invoices: int = 0
    txns: dict[int, Transaction] = field(default_factory=dict)  # seq -> what it posted
    reversed_seqs: set[int] = field(default_factory=set)
    step_effects: dict[int, dict[str, Any]] = field(default_factory=dict)

    def line_delivered(self, line_no: int) -> int:
        """Thousandths of line ``line_no`` delivered (not written off)."""
        return sum(d.get(line_no, 0) for d in self.delivered.values()) - sum(
            w.get(line_no, 0) for w in self.written_off.values())

    def pending(self, delivery_id: str, line_no: int) -> int:
        """Delivered and neither received nor written off yet."""
        return (self.delivered.get(delivery_id, {}).get(line_no, 0)
                - self.received.get(delivery_id, {}).get(line_no, 0)
                - self.written_off.get(delivery_id, {}).get(line_no, 0))

    def any_pending(self) -> bool:
        """Whether some delivery awaits its receipt."""
        return any(self.pending(d, n) > 0 for d, lines in self.delivered.items()
                   for n in lines)

    def owed_total(self) -> dict[str, int]:
        """Outstanding per currency."""
        out: dict[str, int] = defaultdict(int)
        for (cur, _), v in self.owed.items():
            out[cur] += v
        return {k: v for k, v in sorted(out.items()) if v}

    def invoiced_open(self) -> dict[tuple[str, str], int]:
        """Owed and invoiced, by (currency, category)."""
        return {k: v - self.uninvoiced.get(k, 0) for k, v in self.owed.items()
                if v - self.uninvoiced.get(k, 0) > 0}

    def settlements(self) -> list[dict[str, Any]]:
        """Each settlement step: who recorded it (requester), whether it was reversed, and the
        provider's confirmation that the payment (or items) arrived, by whom, in which step."""
        out = []
        for seq, eff in sorted(self.step_effects.items()):
            if eff.get("kind") != "settle":
                continue
            conf = next(((n, e) for n, e in sorted(self.step_effects.items())
                         if e.get("kind") == "confirm" and e.get("target_seq") == seq),
                        None)
            out.append({"seq": seq, "method": eff.get("method"),
                        "recorded_by": eff.get("_actor"),
                        "reversed": seq in self.reversed_seqs,
                        "confirmed_by": conf[1].get("_actor") if conf else None,
                        "confirmed_seq": conf[0] if conf else None,
                        "confirmed_on": conf[1].get("received_on") if conf else None})
        return out

    def to_json(self) -> dict[str, Any]:
        """A summary for people and the API."""
        return {"order": self.order.to_json(), "state": self.state, "steps": self.seq,
                "owed_minor": self.owed_total(),
                "override": self.override,
                "settlements": self.settlements(),
                "lines": [{"line_no": ln.line_no, "qty_milli": ln.qty_milli,
                           "delivered_milli": self.line_delivered(ln.line_no),
                           "received_milli": self.line_received.get(ln.line_no, 0),
                           "replaced_milli": self.line_replaced.get(ln.line_no, 0)}
                          for ln in self.order.lines]}


# --------------------------------------------------------------------------- the fold


def _moving_state(s: OrderState) -> str:
    owed = any(v > 0 for v in s.owed.values())
    if not owed and not s.any_pending() and any(s.line_obligation.values()):
        return "settled"
    if owed and s.invoices and not any(v > 0 for v in s.uninvoiced.values()):
        return "invoiced"
    return "delivered"


def _add(target: dict[Any, int], key: Any, value: int) -> None:
    target[key] = target.get(key, 0) + value


def apply(s: OrderState | None, step: Step, txn: Transaction | None) -> OrderState:
    """The state after ``step`` (with the transaction it posted). Pure; ``s`` is not changed
    except that a fresh state is built for ``create``."""
    p = step.payload
    if step.kind == "create":
        s = OrderState(order_from_json(p["order"]), created_by=step.actor)
    elif s is None:
        raise ConflictError("order_id", f"{step.order_id}: the first step must be create")
    else:
        s = _copy(s)
    s.seq = step.seq
    kind = step.kind
    if kind == "submit":
        s.state, s.submitted_by = "submitted", step.actor
    elif kind == "cancel":
        s.state = "cancelled"
    elif kind == "reject":
        s.state = "rejected"
    elif kind == "override":
        s.override = str(p["reason"])
    elif kind == "accept":
        if p.get("order"):
            s.order = order_from_json(p["order"])
        s.state, s.accepted_by = "accepted", step.actor
        s.ceiling_minor, s.ceiling_fy = int(p.get("ceiling_minor", 0)), p.get("ceiling_fy")
    elif kind == "deliver":
        s.delivered[p["delivery_id"]] = {int(k): int(v) for k, v in p["lines"].items()}
        s.state = "delivered"
    elif kind == "receive":
        d = p["delivery_id"]
        got = s.received.setdefault(d, {})
        for k, v in p["lines"].items():
            _add(got, int(k), int(v))
            _add(s.line_received, int(k), int(v))
        for k, v in p.get("line_amounts", {}).items():
            _add(s.line_obligation, int(k), int(v))
        if p.get("final"):
            s.written_off[d] = {n: s.delivered[d][n] - got.get(n, 0) for n in s.delivered[d]}
        s.receivers.add(step.actor)
        _post(s, txn, +1)
        s.state = _moving_state(s)
    elif kind in ("invoice", "settle", "exchange"):
        if kind == "invoice":
            s.invoices += 1
        for k, v in p.get("replaced", {}).items():
            _add(s.line_replaced, int(k), int(v["qty_milli"]))
            _add(s.line_replaced_minor, int(k), int(v["amount_minor"]))
        _post(s, txn, +1)
        s.state = _moving_state(s)
    elif kind == "reverse":
        target = int(p["target_seq"])
        s.reversed_seqs.add(target)
        eff = s.step_effects.get(target, {})
        if eff.get("kind") == "receive":
            d = eff["delivery_id"]
            for k, v in eff["lines"].items():
                _add(s.received[d], int(k), -int(v))
                _add(s.line_received, int(k), -int(v))
            for k, v in eff.get("line_amounts", {}).items():
                _add(s.line_obligation, int(k), -int(v))
            if eff.get("final"):
                s.written_off.pop(d, None)
        for k, v in eff.get("replaced", {}).items():
            _add(s.line_replaced, int(k), -int(v["qty_milli"]))
            _add(s.line_replaced_minor, int(k), -int(v["amount_minor"]))
        _post(s, txn, +1)
        s.state = _moving_state(s)
    elif kind == "close":
        s.state = "closed"
    elif kind == "confirm":
        pass  # the provider's record that a settlement arrived: no posting, no new state
    elif kind != "create":
        raise ConflictError("kind", f"unknown step {kind!r}")
    if txn is not None:
        s.txns[step.seq] = txn
    s.step_effects[step.seq] = {"kind": kind, **dict(p)}
    return s


def _copy(s: OrderState) -> OrderState:
    return replace(
        s, receivers=set(s.receivers),
        delivered={k: dict(v) for k, v in s.delivered.items()},
        received={k: dict(v) for k, v in s.received.items()},
        written_off={k: dict(v) for k, v in s.written_off.items()},
        line_received=defaultdict(int, s.line_received),
        line_obligation=defaultdict(int, s.line_obligation),
        line_replaced=defaultdict(int, s.line_replaced),
        line_replaced_minor=defaultdict(int, s.line_replaced_minor),
        owed=defaultdict(int, s.owed), uninvoiced=defaultdict(int, s.uninvoiced),
        txns=dict(s.txns), reversed_seqs=set(s.reversed_seqs),
        step_effects=dict(s.step_effects))


def _post(s: OrderState, txn: Transaction | None, sign: int) -> None:
    """Follow the provider's receivable entries of ``txn`` into ``owed``/``uninvoiced``."""
    if txn is None:
        return
    for e in txn.entries:
        if e.account != "receivable" or e.book != s.order.provider:
            continue
        key = (e.currency, e.category)
        _add(s.owed, key, sign * e.amount_minor)
        if e.due_on is None and not e.liquidates:
            _add(s.uninvoiced, key, sign * e.amount_minor)
    for e in txn.entries:  # liquidations reduce the invoiced part first
        if e.account == "receivable" and e.book == s.order.provider and e.liquidates:
            key = (e.currency, e.category)
            over = s.uninvoiced.get(key, 0) - s.owed.get(key, 0)
            if over > 0:
                _add(s.uninvoiced, key, -over)


def replay(steps: Iterable[tuple[Step, Transaction | None]]) -> OrderState:
    """The state the steps (in order, each with what it posted) add up to."""
    s: OrderState | None = None
    for step, txn in steps:
        s = apply(s, step, txn)
    if s is None:
        raise ConflictError("order_id", "an order without steps")
    return s


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Context:
    """What a decision needs besides the state: the agreement the order is under (its current
    version), the ceiling already used in the order's fiscal year, rates, and today."""

    agreement: LogisticsAgreement
    today: date
    now: datetime
    ceiling_used_minor: int = 0
    rates: RateTable | None = None


_ROLE: Final = {"override": "admin"}
_BY: Final = {"create": "requester", "submit": "requester", "cancel": "either",
              "override": "provider", "accept": "provider", "reject": "provider",
              "deliver": "provider", "receive": "requester", "invoice": "provider",
              "settle": "requester", "close": "provider", "reverse": "either",
              "confirm": "provider"}
_FROM: Final[dict[str, tuple[str, ...]]] = {
    "submit": ("draft",), "cancel": ("draft", "submitted", "accepted"),
    "override": ("draft", "submitted"), "accept": ("submitted",), "reject": ("submitted",),
    "deliver": ("accepted", "delivered", "invoiced", "settled"),
    "receive": ("delivered", "invoiced", "settled"), "invoice": ("delivered", "invoiced"),
    "settle": ("delivered", "invoiced"), "close": ("settled",),
    "confirm": ("delivered", "invoiced", "settled", "closed"),
    "reverse": ("delivered", "invoiced", "settled"),
}


def check_duty(s: OrderState | None, kind: str, actor: Caller, order: Order) -> None:
    """:class:`DutyError` unless ``actor`` may take step ``kind`` on ``order``."""
    role = _ROLE.get(kind, "analyst")
    if role not in actor.roles:
        raise DutyError("role", f"{kind} needs role {role}; {actor.name} has "
                                f"{', '.join(sorted(actor.roles)) or 'none'}")
    by = _BY[kind]
    allowed = {"requester": (order.requester,), "provider": (order.provider,),
               "either": (order.requester, order.provider)}[by]
    if actor.organisation not in allowed:
        raise DutyError("actor", f"{kind} is for the {by} ({' or '.join(allowed)}), not "
                                 f"{actor.organisation!r}")
    if s is None:
        return
    who = actor.name
    if kind == "accept" and who in (s.created_by, s.submitted_by):
        raise DutyError("actor", f"{who} placed order {order.number} and cannot accept it")
    if kind == "receive" and who == s.accepted_by:
        raise DutyError("actor", f"{who} accepted order {order.number} and cannot confirm "
                                 "its receipt")
    if kind == "settle" and who in s.receivers:
        raise DutyError("actor", f"{who} confirmed a receipt of order {order.number} and "
                                 "cannot record its settlement")


def _state_allows(s: OrderState, kind: str) -> None:
    if s.state not in _FROM[kind]:
        raise ConflictError("state", f"order {s.order.number} is {s.state}; {kind} needs "
                                     f"{' or '.join(_FROM[kind])}")


def _quantities(raw: object, order: Order, field: str = "lines") -> dict[int, int]:
    """``{line_no: quantity}`` (or a list of ``{line_no, quantity}``) in thousandths."""
    items: list[tuple[object, object]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = [(r.get("line_no"), r.get("quantity"))
                 if isinstance(r, Mapping) else (None, None) for r in raw]
    else:
        raise LogisticsError(field, "{line_no: quantity} or a list of {line_no, quantity}")
    out: dict[int, int] = {}
    for k, v in items:
        try:
            no = int(str(k))
        except ValueError:
            raise LogisticsError(field, f"not a line number: {k!r}") from None
        order.line(no)
        out[no] = out.get(no, 0) + parse_quantity(v, f"{field}[{no}].quantity")
    if not out:
        raise LogisticsError(field, "at least one line")
    return out


def _term_check(ctx: Context, on: date, field: str = "on") -> None:
    a = ctx.agreement
    if not a.in_force(on):
        why = (f"revoked on {a.revoked_on}" if a.revoked_on is not None and on >= a.revoked_on
               else f"term {a.start} to {a.end}")
        raise LogisticsError(field, f"{on} is outside agreement {a.reference} ({why})")


def decide(s: OrderState | None, kind: str, actor: Caller, payload: Mapping[str, Any],
           ctx: Context, order: Order | None = None
           ) -> tuple[Step, Transaction | None, list[tuple[str, dict[str, Any]]]]:
    """Check step ``kind`` by ``actor`` with ``payload`` and return it, the transaction it
    posts, and counter steps on other orders ``(order_id, payload)`` (an equal value exchange
    liquidates the counter order too). Raises :class:`LogisticsError` (naming the field),
    :class:`DutyError` or :class:`ConflictError`; decides nothing else."""
    if kind not in _BY:
        raise LogisticsError("kind", f"unknown step {kind!r}")
    if kind == "create":
        if order is None:
            raise LogisticsError("order", "required")
        check_duty(None, kind, actor, order)
        step = Step(order.order_id, 1, "create", actor.name, actor.organisation, ctx.now,
                    ctx.today, {"order": order.to_json()})
        return step, None, []
    if s is None:
        raise ConflictError("order_id", "no such order")
    o = s.order
    check_duty(s, kind, actor, o)
    if kind != "reverse":
        _state_allows(s, kind)
    on = parse_date(payload.get("on", ctx.today), "on")
    seq = s.seq + 1
    out: dict[str, Any] = {}
    txn: Transaction | None = None
    counters: list[tuple[str, dict[str, Any]]] = []
    a = ctx.agreement
    if kind in ("cancel", "reject", "override"):
        reason = payload.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 2000 or (
                kind == "override" and not reason.strip()):
            raise LogisticsError("reason", "required text, at most 2000 characters"
                                 if kind == "override" else "at most 2000 characters")
        if kind == "cancel" and s.delivered:
            raise ConflictError("state", f"order {o.number} has deliveries; cancel only "
                                         "before delivery")
        out["reason"] = reason
    elif kind == "submit":
        _term_check(ctx, o.start, "start")
    elif kind == "accept":
        _term_check(ctx, o.start, "start")
        adjusted = adjust(o, payload.get("adjustments") or [])
        if adjusted is not o:
            out["order"] = adjusted.to_json()
        fy = fiscal_year(o.start, a.fy_month(o.provider))
        ceiling = a.ceiling(o.provider, fy)
        if ceiling is not None:
            value = 0
            rate_notes = []
            for cur, amount in adjusted.totals().items():
                if cur == ceiling.currency:
                    value += amount
                    continue
                if ctx.rates is None:
                    raise LogisticsError("rates", f"no rates loaded to count {cur} against "
                                                  f"the {ceiling.currency} ceiling")
                conv = ctx.rates.convert(amount, cur, ceiling.currency, on)
                value += conv.amount_minor
                rate_notes.append({"currency": cur, "rate": conv.rate,
                                   "rate_date": str(conv.rate_date)})
            if ctx.ceiling_used_minor + value > ceiling.amount_minor and s.override is None:
                raise ConflictError(
                    "ceiling", f"order {o.number} ({value} minor units of {ceiling.currency}) "
                    f"would pass {o.provider}'s FY {fy} ceiling of {ceiling.amount_minor} "
                    f"({ctx.ceiling_used_minor} used); an admin of {o.provider} may record "
                    "an override with a reason")
            out.update(ceiling_minor=value, ceiling_fy=fy, ceiling_currency=ceiling.currency,
                       ceiling_rates=rate_notes,
                       over_ceiling=ctx.ceiling_used_minor + value > ceiling.amount_minor)
    elif kind == "deliver":
        _term_check(ctx, on)
        qty = _quantities(payload.get("lines"), o)
        for no, q in qty.items():
            left = o.line(no).qty_milli - s.line_delivered(no)
            if q > left:
                raise LogisticsError(f"lines[{no}].quantity", f"{q / 1000:g} is more than "
                                     f"the {left / 1000:g} accepted and not yet delivered")
        delivery_id = f"D{len(s.delivered) + 1}"
        out.update(delivery_id=delivery_id, lines={str(k): v for k, v in qty.items()})
    elif kind == "receive":
        delivery_id = str(payload.get("delivery_id"))
        if delivery_id not in s.delivered:
            raise LogisticsError("delivery_id", f"no delivery {delivery_id!r} of order "
                                                f"{o.number}")
        qty = _quantities(payload.get("lines"), o)
        amounts: dict[tuple[str, str], int] = defaultdict(int)
        line_amounts = {}
        for no, q in qty.items():
            left = s.pending(delivery_id, no)
            if q > left:
                raise LogisticsError(f"lines[{no}].quantity", f"{q / 1000:g} is more than the "
                                     f"{left / 1000:g} delivered and not yet received")
            line = o.line(no)
            amount = line_amount(q, line.unit_price_minor)
            line_amounts[str(no)] = amount
            amounts[(line.currency, line.category)] += amount
        terms = a.terms(o.method)
        due = on + timedelta(days=terms.days) if terms and terms.basis == "delivery" else None
        out.update(delivery_id=delivery_id, lines={str(k): v for k, v in qty.items()},
                   line_amounts=line_amounts, final=bool(payload.get("final", False)),
                   due_on=str(due) if due else None)
        txn = obligation(o.order_id, o.agreement_id, seq, on, o.provider, o.requester,
                         dict(amounts), due)
    elif kind == "invoice":
        terms = a.terms(o.method)
        if terms is None or terms.basis != "invoice":
            raise LogisticsError("method", f"order {o.number} is settled by {o.method}, "
                                           "which the agreement does not settle by invoice")
        open_items = {k: v for k, v in s.uninvoiced.items() if v > 0}
        if not open_items:
            raise ConflictError("state", f"order {o.number}: nothing received is uninvoiced")
        due = on + timedelta(days=terms.days)
        out.update(invoice_no=f"{o.number}-INV{s.invoices + 1}", due_on=str(due),
                   amounts={f"{c}/{k}": v for (c, k), v in sorted(open_items.items())})
        txn = invoice(o.order_id, o.agreement_id, seq, on, o.provider, o.requester,
                      open_items, due)
    elif kind == "settle":
        method = check_method(payload.get("method", o.method))
        if a.terms(method) is None:
            raise LogisticsError("method", f"agreement {a.reference} does not allow {method!r}")
        out["method"] = method
        if method == "cash":
            txn, counters = _cash(s, payload, ctx, seq, on, out), []
        elif method == "replacement_in_kind":
            txn = _in_kind(s, payload, seq, on, out)
        else:
            txn, counters = _exchange(s, payload, seq, on, out)
    elif kind == "reverse":
        target = payload.get("target_seq")
        if isinstance(target, bool) or not isinstance(target, int) or target not in s.txns:
            raise LogisticsError("target_seq", f"not a step of order {o.number} that posted")
        if target in s.reversed_seqs or s.txns[target].kind not in ("receipt", "settlement"):
            raise ConflictError("target_seq", f"step {target} cannot be reversed (already "
                                              "reversed, or not a receipt or settlement)")
        eff = s.step_effects[target]
        original = s.txns[target]
        target_org = s.step_effects[target].get("_org")
        if eff.get("kind") == "exchange" or eff.get("counter_order_id"):
            raise ConflictError("target_seq", "an equal value exchange is reversed by a new "
                                              "exchange in the other direction")
        if target_org is not None and target_org != actor.organisation:
            raise DutyError("actor", f"step {target} was taken by {target_org}; only it may "
                                     "reverse it")
        if eff.get("_actor") == actor.name:
            raise DutyError("actor", f"{actor.name} took step {target} and cannot reverse it")
        reason = payload.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
            raise LogisticsError("reason", "required text, at most 2000 characters")
        txn = reversal(original, seq, on)
        if original.kind == "receipt":
            trial = apply(s, Step(o.order_id, seq, "reverse", actor.name, actor.organisation,
                                  ctx.now, on, {"target_seq": target}), txn)
            if any(v < 0 for v in trial.uninvoiced.values()):
                raise ConflictError("target_seq", f"step {target}'s receipt is invoiced; it "
                                                  "cannot be reversed")
            if any(v < 0 for v in trial.owed.values()) or any(
                    trial.line_replaced[n] > trial.line_received[n] for n in trial.line_replaced):
                raise ConflictError("target_seq", f"step {target}'s receipt is already "
                                                  "(partly) settled; reverse the settlement first")
        out.update(target_seq=target, reason=reason)
    elif kind == "confirm":
        out.update(_confirmation(s, payload, actor, on))
    elif kind == "close":
        pass
    out["_actor"], out["_org"] = actor.name, actor.organisation
    step = Step(o.order_id, seq, kind, actor.name, actor.organisation, ctx.now, on, out)
    return step, txn, counters


def _confirmation(s: OrderState, payload: Mapping[str, Any], actor: Caller, on: date
                  ) -> dict[str, Any]:
    """The provider confirms that what settlement step ``target_seq`` records has arrived
    (money on its account, items back): once per settlement, not reversed, and not by the
    person who recorded the settlement."""
    target = payload.get("target_seq")
    if isinstance(target, bool) or not isinstance(target, int):
        raise LogisticsError("target_seq", "the number of a settlement step")
    eff = s.step_effects.get(target)
    if eff is None or eff.get("kind") != "settle" or target not in s.txns:
        raise LogisticsError("target_seq", f"not a settlement step of order {s.order.number}")
    if target in s.reversed_seqs:
        raise ConflictError("target_seq", f"settlement step {target} was reversed")
    if any(e.get("kind") == "confirm" and e.get("target_seq") == target
           for e in s.step_effects.values()):
        raise ConflictError("target_seq", f"settlement step {target} is already confirmed")
    if eff.get("_actor") == actor.name:
        raise DutyError("actor", f"{actor.name} recorded settlement step {target} and cannot "
                                 "confirm it was received")
    reference = payload.get("reference", "")
    if not isinstance(reference, str) or len(reference) > 200:
        raise LogisticsError("reference", "text, at most 200 characters")
    received: dict[str, int] = defaultdict(int)
    for e in s.txns[target].entries:
        if e.book == s.order.provider and e.account in ("cash", "replacement_in",
                                                         "exchange_clearing"):
            received[e.currency] += e.amount_minor
    return {"target_seq": target, "reference": reference, "received_on": on.isoformat(),
            "received_minor": {k: v for k, v in sorted(received.items()) if v}}


def _cash(s: OrderState, payload: Mapping[str, Any], ctx: Context, seq: int, on: date,
          out: dict[str, Any]) -> Transaction:
    o = s.order
    paid_cur = currency(payload.get("currency"), "currency").code
    paid = to_minor(payload.get("amount"), paid_cur, "amount")
    if paid <= 0:
        raise LogisticsError("amount", "must be more than zero")
    open_items = s.invoiced_open()
    if not open_items:
        raise ConflictError("state", f"order {o.number}: nothing invoiced is owed")
    order_curs = sorted({c for c, _ in open_items})
    target = payload.get("for_currency", order_curs[0] if len(order_curs) == 1 else None)
    if target is None:
        raise LogisticsError("for_currency", f"order {o.number} owes in {', '.join(order_curs)}"
                                             ": say which one this payment settles")
    target = currency(target, "for_currency").code
    rate = rate_day = None
    liquidated = paid
    if paid_cur != target:
        if ctx.rates is None:
            raise LogisticsError("rates", f"no rates loaded to convert {paid_cur} to {target}")
        conv = ctx.rates.convert(paid, paid_cur, target, on)
        liquidated, rate, rate_day = conv.amount_minor, conv.rate, conv.rate_date
        out.update(rate=rate, rate_date=str(rate_day))
    parts = allocate(liquidated, open_items, target)
    out.update(currency=paid_cur, amount_minor=paid, liquidated_minor=liquidated,
               for_currency=target)
    return settlement(o.order_id, o.agreement_id, seq, on, o.provider, o.requester, "cash",
                      parts, paid=(paid_cur, paid), rate=rate, rate_date=rate_day)


def _in_kind(s: OrderState, payload: Mapping[str, Any], seq: int, on: date,
             out: dict[str, Any]) -> Transaction:
    o = s.order
    qty = _quantities(payload.get("lines"), o)
    amounts: dict[tuple[str, str], int] = defaultdict(int)
    replaced: dict[str, dict[str, int]] = {}
    owed = dict(s.owed)
    for no, q in sorted(qty.items()):
        line = o.line(no)
        left = s.line_received[no] - s.line_replaced[no]
        if q > left:
            raise LogisticsError(f"lines[{no}].quantity", f"{q / 1000:g} is more than the "
                                 f"{left / 1000:g} received and not yet replaced")
        value_left = s.line_obligation[no] - s.line_replaced_minor[no]
        value = value_left if q == left else min(line_amount(q, line.unit_price_minor),
                                                 value_left)
        key = (line.currency, line.category)
        value = min(value, owed.get(key, 0))
        owed[key] = owed.get(key, 0) - value
        amounts[key] += value
        replaced[str(no)] = {"qty_milli": q, "amount_minor": value}
    out["replaced"] = replaced
    return settlement(o.order_id, o.agreement_id, seq, on, o.provider, o.requester,
                      "replacement_in_kind", {k: v for k, v in amounts.items() if v})


def _exchange(s: OrderState, payload: Mapping[str, Any], seq: int, on: date,
              out: dict[str, Any]) -> tuple[Transaction, list[tuple[str, dict[str, Any]]]]:
    """The exchange's side on this order; the counter order's side is checked and posted by
    :func:`decide_exchange_counter` (the store runs both in one transaction)."""
    o = s.order
    counter = payload.get("counter_order_id")
    if not isinstance(counter, str) or not counter or counter == o.order_id:
        raise LogisticsError("counter_order_id", "the order in the other direction whose "
                                                 "value is exchanged")
    cur = currency(payload.get("currency"), "currency").code
    amount = to_minor(payload.get("amount"), cur, "amount")
    if amount <= 0:
        raise LogisticsError("amount", "must be more than zero")
    parts = allocate(amount, dict(s.owed), cur)
    out.update(counter_order_id=counter, currency=cur, amount_minor=amount)
    txn = settlement(o.order_id, o.agreement_id, seq, on, o.provider, o.requester,
                     "equal_value_exchange", parts)
    return txn, [(counter, {"counter_order_id": o.order_id, "currency": cur,
                            "amount_minor": amount, "on": str(on)})]


def decide_exchange_counter(c: OrderState, this: Order, payload: Mapping[str, Any],
                            actor: Caller, ctx: Context) -> tuple[Step, Transaction]:
    """The counter order's step of an equal value exchange recorded on order ``this``."""
    o = c.order
    if (o.agreement_id, o.provider, o.requester) != (this.agreement_id, this.requester,
                                                     this.provider):
        raise LogisticsError("counter_order_id", f"order {o.number} is not in the other "
                                                 "direction under the same agreement")
    if c.state not in ("delivered", "invoiced"):
        raise ConflictError("counter_order_id", f"order {o.number} is {c.state}: nothing "
                                                "received is owed on it")
    amount, cur = int(payload["amount_minor"]), str(payload["currency"])
    parts = allocate(amount, dict(c.owed), cur, "amount")
    on = parse_date(payload["on"], "on")
    seq = c.seq + 1
    txn = exchange_counterpart(o.order_id, o.agreement_id, seq, on, o.provider, o.requester,
                               parts)
    step = Step(o.order_id, seq, "exchange", actor.name, actor.organisation, ctx.now, on,
                {"counter_order_id": this.order_id, "currency": cur, "amount_minor": amount,
                 "_actor": actor.name, "_org": actor.organisation})
    return step, txn


__all__ = [
    "STATES",
    "STEP_KINDS",
    "Context",
    "OrderState",
    "Step",
    "apply",
    "check_duty",
    "decide",
    "decide_exchange_counter",
    "replay",
]
