"""The ``aws_access_keys`` table (see :mod:`.aws_keys`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from patchwarden.adapters.storage.base import Base


class AwsAccessKey(Base):
    """An access key id and its secret access key (plain: SigV4 needs it), owned by a
    token."""

    __tablename__ = "aws_access_keys"
    access_key_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    secret: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
