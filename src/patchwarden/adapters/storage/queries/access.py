"""Operator tokens and hybrid activations, as the admin lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.activations import activation_record
from patchwarden.adapters.storage.tables import Activation, Token
from patchwarden.adapters.storage.token_admin import token_record
from patchwarden.pipeline.fleet.records import ActivationRecord, TokenRecord


def tokens(session: Session) -> list[TokenRecord]:
    """Every token, oldest first."""
    return [token_record(t) for t in session.scalars(select(Token).order_by(Token.created_at))]


def activations(session: Session) -> list[ActivationRecord]:
    """Every activation, oldest first."""
    rows = session.scalars(select(Activation).order_by(Activation.created_at))
    return [activation_record(r) for r in rows]
