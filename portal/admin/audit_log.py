"""The audit log page and its CSV export, on the administration blueprint."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from portal import clock
from portal.admin.blueprint import admin, admin_required
from portal.services import audit_log as audit_log_service
from portal.services.audit_log import AuditFilters
from portal.web import render_page_or_fragment


@admin.get("/audit")
@admin_required
def audit_log():
    filters, problems = AuditFilters.from_args(request.args)
    listing = audit_log_service.page(
        filters, audit_log_service.page_number(request.args.get("page"))
    )
    return render_page_or_fragment(
        "admin/audit_log.html",
        "admin/_audit_rows.html",
        filters=filters,
        problems=problems,
        log=listing,
        kinds=audit_log_service.kind_choices(),
        # Called by the whole page only: a swap of the results does not need the list.
        suggestions=audit_log_service.person_suggestions,
        max_people=audit_log_service.MAX_PEOPLE,
    )


@admin.get("/audit.csv")
@admin_required
def audit_log_csv():
    # Values the page would leave out are left out here too, so the file is the view.
    filters, _problems = AuditFilters.from_args(request.args)
    response = Response(
        stream_with_context(audit_log_service.export_csv(filters)), mimetype="text/csv"
    )
    filename = f"audit-log-{clock.now():%Y-%m-%d}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
