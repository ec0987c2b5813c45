from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import audit
from portal.decorators import role_required
from portal.models import Apprenticeship, User

from . import services
from .forms import EvidenceFilterForm, EvidenceForm
from .models import EvidenceFile, EvidenceItem, EvidenceVersion
from .selectors import evidence_page

apprentice_only = role_required(User.Role.APPRENTICE)


def _visible_item(request, pk: int) -> EvidenceItem:
    """The item if this person may see it; a 404 otherwise, so its existence stays private."""
    return get_object_or_404(EvidenceItem.objects.visible_to(request.user).with_versions(), pk=pk)


def _own_item(request, pk: int) -> EvidenceItem:
    return get_object_or_404(EvidenceItem.objects.editable_by(request.user).with_versions(), pk=pk)


def _readable_versions(item: EvidenceItem, user: User) -> list[EvidenceVersion]:
    """The apprentice reads every version; others only what was submitted."""
    versions = sorted(item.versions.all(), key=lambda v: v.number)
    if item.apprenticeship.apprentice_id == user.pk:
        return versions
    return [v for v in versions if v.is_frozen]


def _show_errors(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@never_cache  # portfolios are read on shared computers: nothing of them stays in a cache
@login_required
def evidence_list(request):
    form = EvidenceFilterForm(request.GET or None)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {"status": data["status"], "evidence_type": data["type"], "ksb": data["ksb"], "words": data["q"]}
    page = evidence_page(request.user, number=request.GET.get("page"), **filters)
    return render(
        request,
        "evidence/list.html",
        {
            "page": page,
            "items": page.object_list,
            "page_numbers": list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
            "form": form,
            "show_apprentice": not request.user.is_apprentice,
            "filtered": any(filters.values()),
        },
    )


@never_cache
@apprentice_only
def evidence_create(request):
    apprenticeship = Apprenticeship.objects.current_of(request.user)
    if apprenticeship is None:
        return render(request, "evidence/no_apprenticeship.html")
    ksbs = list(apprenticeship.standard.ksbs.all())
    form = EvidenceForm(request.POST or None, request.FILES or None, ksbs=ksbs)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.create_evidence(apprenticeship=apprenticeship, by=request.user, **form.content)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _after_save(request, item)
    return render(request, "evidence/form.html", {"form": form, "apprenticeship": apprenticeship, "item": None})


def _after_save(request, item: EvidenceItem):
    """Saved as a draft; submitted too when the apprentice pressed 'Save and submit'."""
    if "submit" in request.POST:
        try:
            services.submit_evidence(item=item, by=request.user)
        except ValidationError as error:
            messages.warning(request, "Your draft is saved, but it cannot be submitted yet:")
            _show_errors(request, error)
            return redirect("evidence:edit", item.pk)
        messages.success(request, "Submitted. Your assessor will review it; this version can no longer change.")
    else:
        messages.success(request, "Draft saved.")
    return redirect(item)


@never_cache
@apprentice_only
def evidence_edit(request, pk: int):
    item = _own_item(request, pk)
    if not item.is_editable:
        messages.error(request, f"This evidence is {item.get_status_display().lower()}, so it cannot be edited.")
        return redirect(item)
    version = item.current_version
    ksbs = list(item.apprenticeship.standard.ksbs.all())
    form = EvidenceForm(
        request.POST or None,
        request.FILES or None,
        ksbs=ksbs,
        current_files=list(version.files.all()),
        initial=EvidenceForm.initial_from(version),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_draft(
                item=item, by=request.user, **form.content, remove_files=form.cleaned_data.get("remove_files", [])
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _after_save(request, item)
    return render(
        request,
        "evidence/form.html",
        {"form": form, "apprenticeship": item.apprenticeship, "item": item, "version": version},
    )


@never_cache
@login_required
def evidence_detail(request, pk: int):
    item = _visible_item(request, pk)
    versions = _readable_versions(item, request.user)
    return _render_version(request, item, versions, versions[-1])


@never_cache
@login_required
def evidence_version(request, pk: int, number: int):
    item = _visible_item(request, pk)
    versions = _readable_versions(item, request.user)
    version = next((v for v in versions if v.number == number), None)
    if version is None:
        raise Http404("No such version.")
    return _render_version(request, item, versions, version)


def _render_version(request, item, versions, version):
    is_owner = item.apprenticeship.apprentice_id == request.user.pk
    return render(
        request,
        "evidence/detail.html",
        {
            "item": item,
            "versions": versions,
            "version": version,
            "is_current": version is versions[-1],
            "is_owner": is_owner,
            "problems": services.submission_problems(version) if is_owner and item.is_editable else [],
        },
    )


def _action(service, success: str):
    """A POST-only button on an item of one's own: run the service, report, return to the item."""

    @apprentice_only
    @require_POST
    def view(request, pk: int):
        item = _own_item(request, pk)
        try:
            service(item=item, by=request.user)
        except ValidationError as error:
            _show_errors(request, error)
            return redirect(item)
        messages.success(request, success)
        return redirect("evidence:edit", item.pk) if service is services.revise_evidence else redirect(item)

    return view


evidence_submit = _action(
    services.submit_evidence, "Submitted. Your assessor will review it; this version can no longer change."
)
evidence_withdraw = _action(
    services.withdraw_evidence, "Submission withdrawn. It is a draft again; the submitted version stays on record."
)
evidence_revise = _action(services.revise_evidence, "A new version is ready for you to revise.")


@apprentice_only
@require_POST
def evidence_delete(request, pk: int):
    item = _own_item(request, pk)
    title = str(item)
    try:
        services.delete_draft(item=item, by=request.user)
    except ValidationError as error:
        _show_errors(request, error)
        return redirect(item)
    messages.success(request, f"Draft “{title}” deleted.")
    return redirect("evidence:list")


# A file leaves as a download that the browser must not treat as a page of ours: no scripts, no
# plugins, no access to the portal's origin, never framed, never cached.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"
# An image or PDF preview is shown inside the evidence page, so that page (and only a page of
# ours) may frame it. Chromium's PDF viewer still works in a sandboxed document.
PREVIEW_POLICY = "default-src 'none'; frame-ancestors 'self'; sandbox"
# Session key of the files this session has previewed and had recorded.
PREVIEWED = "evidence_previewed_files"


@login_required
def file_download(request, pk: int):
    """Serves a file to those who may see it: as a download, or inline for a safe preview.

    Every download is recorded in the audit log. A preview is recorded the first time this
    session shows it: the evidence page fetches its previews each time it is opened, and an entry
    for each would bury the log's real events.
    """
    stored = get_object_or_404(EvidenceFile.objects.visible_to(request.user), pk=pk)
    if not stored.is_available:
        # Held for a virus scan (409: try again shortly) or removed as infected (410: gone for good).
        response = render(
            request,
            "evidence/file_unavailable.html",
            {"stored": stored},
            status=409 if stored.is_scan_pending else 410,
        )
        response["Cache-Control"] = "no-store"  # the answer changes as soon as the scan is done
        return response
    inline = request.GET.get("preview") == "1" and stored.is_previewable
    try:
        handle = stored.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    previewed = request.session.get(PREVIEWED, [])
    if not inline or stored.pk not in previewed:
        try:
            with transaction.atomic():
                # The apprenticeship goes in the payload, not the entry's own field: that field
                # gathers the changes to a record, which the portfolio PDF lists, and reading a
                # file changes nothing.
                audit.record(
                    action="file.previewed" if inline else "file.downloaded",
                    actor=request.user,
                    apprenticeship=None,
                    payload={
                        "apprenticeship": stored.apprenticeship_id,
                        # Ids and the hash only: a file's name may name a person, and the audit
                        # log can never be erased.
                        "file": stored.pk,
                        "sha256": stored.sha256,
                    },
                )
        except BaseException:
            handle.close()
            raise
        if inline:
            request.session[PREVIEWED] = [*previewed, stored.pk]
    response = FileResponse(
        handle, as_attachment=not inline, filename=stored.original_name, content_type=stored.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = PREVIEW_POLICY if inline else DOWNLOAD_POLICY
    response["X-Frame-Options"] = "SAMEORIGIN" if inline else "DENY"
    return response
