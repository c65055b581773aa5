"""Who may do what: the roles of the people and systems that use dispute-ews, and the checks
the web service applies to every request.  Pure: a ``Principal`` and the facts of a case or an
alert in, yes or no out.

* a **township clerk** (乡镇) posts records for their own township and reads its cases;
* a **unit officer** (责任单位值班人员) sees and acts on the alerts routed to their unit, and
  reads those cases;
* the **county duty desk** (县级值班台) sees and acts on every alert and reads every case;
* an **analyst** reads cases and models and promotes or rolls back a model;
* an **admin** manages accounts and reads the audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("township_clerk", "unit_officer", "county_desk", "analyst", "admin")
ROLE_ZH = {
    "township_clerk": "乡镇录入员",
    "unit_officer": "责任单位值班员",
    "county_desk": "县级值班台",
    "analyst": "模型分析员",
    "admin": "系统管理员",
}
DESK_UNIT = "county_desk"  # the unit the county duty desk acts for (as in alert commands)


class AccountInvalid(ValueError):
    """An account's role and scope do not fit together."""


@dataclass(frozen=True)
class Principal:
    """An authenticated person or system."""

    name: str
    role: str
    township: str | None = None  # township clerks
    unit: str | None = None  # unit officers

    def can_post_for(self, township: str) -> bool:
        return self.role == "township_clerk" and township == self.township

    def can_read_case(self, township: str, alert_units: Iterable[str] = ()) -> bool:
        if self.role in ("county_desk", "analyst", "admin"):
            return True
        if self.role == "township_clerk":
            return township == self.township
        return self.role == "unit_officer" and self.unit in set(alert_units)

    @property
    def acts_on_alerts(self) -> bool:
        """Whether this role acknowledges, reports on and resolves alerts at all."""
        return self.role in ("county_desk", "unit_officer")

    def can_act_on_alert(self, alert_units: Iterable[str]) -> bool:
        if self.role == "county_desk":
            return True
        return self.role == "unit_officer" and self.unit in set(alert_units)

    def acting_unit(self) -> str:
        """The unit an alert command is sent for."""
        return DESK_UNIT if self.role == "county_desk" else (self.unit or "")

    def sees_alerts_of(self) -> str | None:
        """The unit whose queue this principal sees (None: every alert)."""
        return self.unit if self.role == "unit_officer" else None

    @property
    def can_manage_models(self) -> bool:
        return self.role in ("analyst", "admin")

    @property
    def can_read_audit(self) -> bool:
        return self.role in ("county_desk", "admin")

    @property
    def can_see_county(self) -> bool:
        """The county-wide views: KPIs and the time-limit map."""
        return self.role in ("county_desk", "admin", "analyst")


def check_account(role: str, township: str | None, unit: str | None) -> None:
    """Refuse an account whose scope does not fit its role."""
    if role not in ROLES:
        raise AccountInvalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role == "township_clerk" and not township:
        raise AccountInvalid("a township clerk needs --township")
    if role == "unit_officer" and not unit:
        raise AccountInvalid("a unit officer needs --unit (a unit code of the routing)")
    if role not in ("township_clerk",) and township:
        raise AccountInvalid("only a township clerk has a township")
    if role != "unit_officer" and unit:
        raise AccountInvalid("only a unit officer has a unit")
