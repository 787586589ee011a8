"""Cascade's tables. Migrations in `migrations/versions` must match these models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# MySQL/MariaDB DATETIME keeps whole seconds unless asked; lists sort by creation time.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(DeclarativeBase):
    pass


class Pod(Base):
    """A bottom OpenStack cloud: a Keystone region serving one top availability zone."""

    __tablename__ = "pods"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    region_name: Mapped[str] = mapped_column(String(255), unique=True)
    az: Mapped[str] = mapped_column(String(255), index=True)
    pod_az: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    health_state: Mapped[str] = mapped_column(String(16), default="unknown")
    health_checked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    health_latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    health_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
