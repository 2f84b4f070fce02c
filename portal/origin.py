"""Where a request came from, as the services record it in the audit log and sessions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    ip: str
    user_agent: str
