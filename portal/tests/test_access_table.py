"""Who gets what from every URL of the portal: the role × URL table.

Every URL pattern of the project, read from the URLconf, is tried with GET (and with POST where
the view acts on a POST) by each person of `ROLES`, and must answer as its row of `ACCESS` says:

    OK    allowed: 2xx, or a redirect to anywhere but the sign-in page
    IN    a redirect to the sign-in page
    403   signed in, may see the thing (or the page is for another role), may not do this
    404   may not know the thing exists (another person's, another provider's)
    405   the method is not one the view takes (a POST-only action opened with GET)

A refused request changes no row of any table. A new URL pattern without a row here fails
`test_access_table[<its name>]` with "no access rule listed"; a row `name@variant` tries the same
pattern on another object (a draft rather than submitted evidence, a cohort export).

Django admin's own pages (`admin/…`) are left out: the admin site admits only staff who have
passed a second factor, which the hardening tests cover. No URL pattern serves static or media
files (whitenoise serves static files; evidence and exports leave only through the views here).

A known access bug is written as `Bug(<the correct outcome>, "<what happens instead>")`: its row
is an expected failure (strict, so fixing the view makes the row fail until the mark goes).
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import NoReverseMatch, reverse

from portal.tests.access import IN, OK, ROLES, Bug, attempt, build_world, url_patterns

GET, POST = "GET", "POST"

# Columns, in the order of ROLES:
#   own   the apprentice whose apprenticeship it is
#   oapp  another apprentice of the same provider
#   assr  the owner's assessor
#   oass  another assessor of the same provider
#   ment  the owner's employer mentor
#   adm   a provider admin of the owner's provider
#   iqa   the provider's internal quality assurer
#   xadm  a provider admin of another provider
#   xapp  an apprentice of another provider
#   anon  not signed in

# fmt: off
ACCESS: dict[str, dict[str, tuple]] = {
    #                                                own  oapp assr oass ment adm  iqa  xadm xapp anon
    # --- the site -----------------------------------------------------------------------------------
    "home":                                  {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "dismiss_notice":                        {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    "dismiss_all_notices":                   {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "login":                                 {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
                                              POST: (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK)},
    # Signing out answers POST only, and sends everyone to the sign-in page.
    "logout":                                {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, 405),
                                              POST: (IN,  IN,  IN,  IN,  IN,  IN,  IN,  IN,  IN,  IN)},
    "password_reset":                        {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
                                              POST: (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK)},
    "password_reset_done":                   {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK)},
    "password_reset_confirm":                {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
                                              POST: (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK)},
    "password_reset_complete":               {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK)},
    # The benchmark's floor: signed in, and nothing of anyone's.
    "floor":                                 {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "portal:role_home":                      {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    # Breaks and the end date: the provider's admins and the apprentice's assessor change them.
    "portal:break":                          {GET:  (403, 404, OK,  404, 403, OK,  403, 404, 404, IN),
                                              POST: (403, 404, OK,  404, 403, OK,  403, 404, 404, IN)},
    "portal:planned_end_date":               {GET:  (403, 404, OK,  404, 403, OK,  403, 404, 404, IN),
                                              POST: (403, 404, OK,  404, 403, OK,  403, 404, 404, IN)},
    # --- the catalogue: shared by every provider, written by provider admins ------------------------
    "standards:list":                        {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "standards:import":                      {GET:  (403, 403, 403, 403, 403, OK,  403, OK,  403, IN),
                                              POST: (403, 403, 403, 403, 403, OK,  403, OK,  403, IN)},
    "standards:compare":                     {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "standards:detail":                      {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "standards:minimum_otj_hours":           {GET:  (403, 403, 403, 403, 403, 405, 403, 405, 403, IN),
                                              POST: (403, 403, 403, 403, 403, OK,  403, OK,  403, IN)},
    # --- evidence -----------------------------------------------------------------------------------
    "evidence:list":                         {GET:  (OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  IN)},
    "evidence:create":                       {GET:  (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN),
                                              POST: (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN)},
    # Submitted evidence: the apprenticeship's people read it. A draft is the apprentice's alone.
    "evidence:detail":                       {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "evidence:detail@draft":                 {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    "evidence:version":                      {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "evidence:version@draft":                {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    "evidence:file":                         {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "evidence:file@draft":                   {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    # Returned and revised: the submitted version 1 stays readable; the draft version 2, and a
    # file added only to it, are the apprentice's until they submit again.
    "evidence:detail@revised":               {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "evidence:version@revised":              {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "evidence:version@revised_draft":        {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    "evidence:file@revised_draft":           {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    # Only the apprentice writes their portfolio: other roles are refused the page, other
    # apprentices do not learn that the item exists.
    "evidence:edit":                         {GET:  (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN),
                                              POST: (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    "evidence:submit":                       {GET:  (405, 405, 403, 403, 403, 403, 403, 403, 405, IN),
                                              POST: (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    "evidence:withdraw":                     {GET:  (405, 405, 403, 403, 403, 403, 403, 403, 405, IN),
                                              POST: (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    "evidence:revise":                       {GET:  (405, 405, 403, 403, 403, 403, 403, 403, 405, IN),
                                              POST: (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    "evidence:delete":                       {GET:  (405, 405, 403, 403, 403, 403, 403, 403, 405, IN),
                                              POST: (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    # --- off-the-job hours --------------------------------------------------------------------------
    "evidence:otj_mine":                     {GET:  (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN)},
    "evidence:otj_log":                      {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    # The apprentice logs; their mentor or assessor may log for them.
    "evidence:otj_new":                      {GET:  (OK,  404, OK,  404, OK,  403, 403, 404, 404, IN),
                                              POST: (OK,  404, OK,  404, OK,  403, 403, 404, 404, IN)},
    # The entry was logged by the apprentice: they (and whoever logged it) change it.
    "evidence:otj_edit":                     {GET:  (OK,  404, 403, 404, 403, 403, 403, 404, 404, IN),
                                              POST: (OK,  404, 403, 404, 403, 403, 403, 404, 404, IN)},
    "evidence:otj_delete":                   {GET:  (OK,  404, 403, 404, 403, 403, 403, 404, 404, IN),
                                              POST: (OK,  404, 403, 404, 403, 403, 403, 404, 404, IN)},
    # An entry the mentor logged for the apprentice: the mentor may correct it too.
    "evidence:otj_edit@by_mentor":           {GET:  (OK,  404, 403, 404, OK,  403, 403, 404, 404, IN),
                                              POST: (OK,  404, 403, 404, OK,  403, 403, 404, 404, IN)},
    # The assessor checks.
    "evidence:otj_verify":                   {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (403, 404, OK,  404, 403, 403, 403, 404, 404, IN)},
    "evidence:otj_query":                    {GET:  (403, 404, OK,  404, 403, 403, 403, 404, 404, IN),
                                              POST: (403, 404, OK,  404, 403, 403, 403, 404, 404, IN)},
    # --- home pages by role -------------------------------------------------------------------------
    "reviews:apprentice_home":               {GET:  (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN)},
    "reviews:assessor_home":                 {GET:  (403, 403, OK,  OK,  403, 403, 403, 403, 403, IN)},
    "reviews:mentor_home":                   {GET:  (403, 403, 403, 403, OK,  403, 403, 403, 403, IN)},
    "reviews:provider_home":                 {GET:  (403, 403, 403, 403, 403, OK,  403, OK,  403, IN)},
    "reviews:iqa_home":                      {GET:  (403, 403, 403, 403, 403, 403, OK,  403, 403, IN)},
    # --- decisions and sign-offs --------------------------------------------------------------------
    "reviews:review":                        {GET:  (403, 403, OK,  404, 403, 403, 403, 403, 403, IN),
                                              POST: (403, 403, OK,  404, 403, 403, 403, 403, 403, IN)},
    "reviews:apprenticeship":                {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    # Everyone who may see the apprenticeship reads a KSB; only its assessor signs it off.
    "reviews:ksb":                           {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN),
                                              POST: (404, 404, OK,  404, 404, 404, 404, 404, 404, IN)},
    "reviews:revoke":                        {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (403, 404, OK,  404, 403, OK,  403, 404, 404, IN)},
    "reviews:iqa_decision":                  {GET:  (403, 403, 403, 403, 403, 403, OK,  403, 403, IN),
                                              POST: (403, 403, 403, 403, 403, 403, OK,  403, 403, IN)},
    "reviews:iqa_sign_off":                  {GET:  (403, 403, 403, 403, 403, 403, OK,  403, 403, IN),
                                              POST: (403, 403, 403, 403, 403, 403, OK,  403, 403, IN)},
    # --- exports: the apprentice's assessor and the provider's admins -------------------------------
    "reviews:export_portfolio":              {GET:  (403, 403, 405, 405, 403, 405, 403, 405, 403, IN),
                                              POST: (403, 403, OK,  404, 403, OK,  403, 404, 403, IN)},
    # Another provider's admin exports their own cohort, never ours (the export is of their provider).
    "reviews:export_cohort":                 {GET:  (403, 403, 403, 403, 403, 405, 403, 405, 403, IN),
                                              POST: (403, 403, 403, 403, 403, OK,  403, OK,  403, IN)},
    "reviews:export":                        {GET:  (404, 404, OK,  404, 404, OK,  404, 404, 404, IN)},
    "reviews:export@cohort":                 {GET:  (404, 404, 404, 404, 404, OK,  404, 404, 404, IN)},
    "reviews:export_download":               {GET:  (404, 404, OK,  404, 404, OK,  404, 404, 404, IN)},
    "reviews:export_download@cohort":        {GET:  (404, 404, 404, 404, 404, OK,  404, 404, 404, IN)},
    # --- data protection: an apprentice's own data is theirs alone ----------------------------------
    "reviews:my_data":                       {GET:  (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN)},
    "reviews:my_data_start":                 {GET:  (405, 405, 403, 403, 403, 403, 403, 403, 405, IN),
                                              POST: (OK,  OK,  403, 403, 403, 403, 403, 403, OK,  IN)},
    "reviews:my_data_export":                {GET:  (OK,  404, 403, 403, 403, 403, 403, 403, 404, IN)},
    "reviews:export@personal_data":          {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    "reviews:export_download@personal_data": {GET:  (OK,  404, 404, 404, 404, 404, 404, 404, 404, IN)},
    # Erasing a withdrawn apprentice's personal data: the provider's admins.
    "reviews:erase_personal_data":           {GET:  (403, 403, 403, 403, 403, OK,  403, 404, 403, IN),
                                              POST: (403, 403, 403, 403, 403, OK,  403, 404, 403, IN)},
    # --- moving to a newer version of the standard: the provider's admins ---------------------------
    "reviews:move_version":                  {GET:  (404, 404, 404, 404, 404, OK,  404, 404, 404, IN),
                                              POST: (404, 404, 404, 404, 404, OK,  404, 404, 404, IN)},
    # --- gateway ------------------------------------------------------------------------------------
    "reviews:gateway":                       {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    # The mentor confirms for the employer; the assessor or an admin for the provider.
    "reviews:gateway_confirm":               {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (403, 404, OK,  404, OK,  OK,  403, 404, 404, IN)},
    "reviews:gateway_move":                  {GET:  (403, 403, 403, 403, 403, 405, 403, 405, 403, IN),
                                              POST: (403, 403, 403, 403, 403, OK,  403, 404, 403, IN)},
    # The provider's confirmation (given by the assessor): only the provider's side withdraws it.
    "reviews:gateway_withdraw":              {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (403, 404, OK,  404, 403, OK,  403, 404, 404, IN)},
    # --- progress reviews and training plans --------------------------------------------------------
    "reviews:progress_reviews":              {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "reviews:progress_review":               {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    # The apprentice's assessor records and edits reviews.
    "reviews:progress_review_new":           {GET:  (403, 403, OK,  404, 403, 403, 403, 403, 403, IN),
                                              POST: (403, 403, OK,  404, 403, 403, 403, 403, 403, IN)},
    "reviews:progress_review_edit":          {GET:  (403, 403, OK,  404, 403, 403, 403, 403, 403, IN),
                                              POST: (403, 403, OK,  404, 403, 403, 403, 403, 403, IN)},
    # The three parties sign: apprentice, mentor, assessor.
    "reviews:progress_review_sign":          {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (OK,  404, OK,  404, OK,  403, 403, 404, 404, IN)},
    "reviews:training_plan":                 {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    "reviews:training_plan_version":         {GET:  (OK,  404, OK,  404, OK,  OK,  OK,  404, 404, IN)},
    # The apprentice's assessor or the provider's admins write the plan.
    "reviews:training_plan_edit":            {GET:  (403, 403, OK,  404, 403, OK,  403, 404, 403, IN),
                                              POST: (403, 403, OK,  404, 403, OK,  403, 404, 403, IN)},
    "reviews:training_plan_sign":            {GET:  (405, 405, 405, 405, 405, 405, 405, 405, 405, IN),
                                              POST: (OK,  404, OK,  404, OK,  403, 403, 404, 404, IN)},
}
# fmt: on

# Each row's URL arguments, from the world of `portal.tests.access.build_world`.
ARGS = {
    "dismiss_notice": lambda w: [w.notice.pk],
    "password_reset_confirm": lambda w: [w.reset_uid, w.reset_token],
    "portal:break": lambda w: [w.apprenticeship.pk],
    "portal:planned_end_date": lambda w: [w.apprenticeship.pk],
    "standards:compare": lambda w: [w.standard.reference, w.standard.version, w.newer_standard.version],
    "standards:detail": lambda w: [w.standard.reference, w.standard.version],
    "standards:minimum_otj_hours": lambda w: [w.standard.reference, w.standard.version],
    "evidence:detail": lambda w: [w.accepted.pk],
    "evidence:detail@draft": lambda w: [w.draft.pk],
    "evidence:version": lambda w: [w.accepted.pk, 1],
    "evidence:version@draft": lambda w: [w.draft.pk, 1],
    "evidence:file": lambda w: [w.file.pk],
    "evidence:file@draft": lambda w: [w.draft_file.pk],
    "evidence:detail@revised": lambda w: [w.revised.pk],
    "evidence:version@revised": lambda w: [w.revised.pk, 1],
    "evidence:version@revised_draft": lambda w: [w.revised.pk, 2],
    "evidence:file@revised_draft": lambda w: [w.revision_file.pk],
    "evidence:edit": lambda w: [w.draft.pk],
    "evidence:submit": lambda w: [w.draft.pk],
    "evidence:withdraw": lambda w: [w.submitted.pk],
    "evidence:revise": lambda w: [w.submitted.pk],
    "evidence:delete": lambda w: [w.draft.pk],
    "evidence:otj_log": lambda w: [w.apprenticeship.pk],
    "evidence:otj_new": lambda w: [w.apprenticeship.pk],
    "evidence:otj_edit": lambda w: [w.otj.pk],
    "evidence:otj_delete": lambda w: [w.otj.pk],
    "evidence:otj_edit@by_mentor": lambda w: [w.otj_by_mentor.pk],
    "evidence:otj_verify": lambda w: [w.otj.pk],
    "evidence:otj_query": lambda w: [w.otj.pk],
    "reviews:review": lambda w: [w.submitted.pk],
    "reviews:apprenticeship": lambda w: [w.apprenticeship.pk],
    "reviews:ksb": lambda w: [w.apprenticeship.pk, w.ksb.code],
    "reviews:revoke": lambda w: [w.sign_off.pk],
    "reviews:iqa_decision": lambda w: [w.decision.pk],
    "reviews:iqa_sign_off": lambda w: [w.sign_off.pk],
    "reviews:export_portfolio": lambda w: [w.apprenticeship.pk],
    "reviews:export": lambda w: [w.portfolio_export.pk],
    "reviews:export@cohort": lambda w: [w.cohort_export.pk],
    "reviews:export_download": lambda w: [w.portfolio_export.pk],
    "reviews:export_download@cohort": lambda w: [w.cohort_export.pk],
    "reviews:my_data_export": lambda w: [w.personal_data_export.pk],
    "reviews:export@personal_data": lambda w: [w.personal_data_export.pk],
    "reviews:export_download@personal_data": lambda w: [w.personal_data_export.pk],
    "reviews:erase_personal_data": lambda w: [w.apprenticeship.pk],
    "reviews:move_version": lambda w: [w.apprenticeship.pk],
    "reviews:gateway": lambda w: [w.apprenticeship.pk],
    "reviews:gateway_confirm": lambda w: [w.apprenticeship.pk],
    "reviews:gateway_move": lambda w: [w.apprenticeship.pk],
    "reviews:gateway_withdraw": lambda w: [w.confirmation.pk],
    "reviews:progress_reviews": lambda w: [w.apprenticeship.pk],
    "reviews:progress_review_new": lambda w: [w.apprenticeship.pk],
    "reviews:progress_review": lambda w: [w.review.pk],
    "reviews:progress_review_edit": lambda w: [w.review.pk],
    "reviews:progress_review_sign": lambda w: [w.review.pk],
    "reviews:training_plan": lambda w: [w.apprenticeship.pk],
    "reviews:training_plan_edit": lambda w: [w.apprenticeship.pk],
    "reviews:training_plan_version": lambda w: [w.plan.pk],
    "reviews:training_plan_sign": lambda w: [w.plan.pk],
}

# POST bodies. Empty unless a view checks the person only once the form is valid: then the body
# is one the allowed person could send, so that the check is reached (and the action is tried).
POST_DATA = {
    "reviews:revoke": lambda w: {"reason": "Signed off on the wrong evidence."},
    "reviews:review": lambda w: {"action": "return", "feedback": "Add the QC chart for the week."},
    "reviews:iqa_decision": lambda w: {"outcome": "agree"},
    "reviews:iqa_sign_off": lambda w: {"outcome": "agree"},
    "reviews:move_version": lambda w: {"to": w.newer_standard.pk},
    "reviews:gateway_confirm": lambda w: {"comment": "Ready for the end-point assessment."},
    "evidence:otj_query": lambda w: {"reason": "Which session was this? The rota shows a day on the ward."},
    "standards:minimum_otj_hours": lambda w: {"hours": "400"},
    "reviews:erase_personal_data": lambda w: {
        "confirm_name": str(w.apprenticeship.apprentice),
        "reason": "Asked for erasure on 3 March 2026.",
    },
    "portal:break": lambda w: {"starts_on": datetime.date.today().isoformat(), "reason": "Illness"},
}


class KnownAccessBug(AssertionError):
    """Raised when the only mismatches are rows marked Bug, so their xfail applies and nothing else."""


# Every named pattern of the URLconf (admin and file serving left out), and the unnamed ones.
PATTERNS = list(url_patterns())
URL_NAMES = {name for name, _ in PATTERNS if name}
UNNAMED = [route for name, route in PATTERNS if not name]


def _base(key: str) -> str:
    return key.partition("@")[0]


def _cases() -> list:
    cases = []
    for key in sorted(URL_NAMES | set(ACCESS)):
        bugs = [outcome for row in ACCESS.get(key, {}).values() for outcome in row if isinstance(outcome, Bug)]
        marks = (
            [pytest.mark.xfail(strict=True, raises=KnownAccessBug, reason="; ".join(b.reason for b in bugs))]
            if bugs
            else []
        )
        cases.append(pytest.param(key, id=key, marks=marks))
    return cases


@pytest.fixture
def world(apprenticeship, other_apprenticeship, outsider_apprenticeship, other_assessor, provider_admin, iqa, outsider):
    return build_world(
        apprenticeship=apprenticeship,
        other_apprenticeship=other_apprenticeship,
        outsider_apprenticeship=outsider_apprenticeship,
        other_assessor=other_assessor,
        provider_admin=provider_admin,
        iqa=iqa,
        outsider=outsider,
    )


def test_every_url_pattern_has_a_name_the_table_can_list():
    assert not UNNAMED, f"URL patterns without a name cannot have an access rule: {UNNAMED}"


def test_the_table_lists_every_role_once_per_method():
    for key, methods in ACCESS.items():
        assert set(methods) <= {GET, POST} and GET in methods, f"{key}: rows are GET, and POST where the view acts"
        for method, row in methods.items():
            assert len(row) == len(ROLES), f"{key} {method}: {len(row)} outcomes for {len(ROLES)} roles"
    assert set(ARGS) <= set(ACCESS), f"arguments for rows that are gone: {sorted(set(ARGS) - set(ACCESS))}"
    posted = {key for key, methods in ACCESS.items() if POST in methods}
    assert set(POST_DATA) <= posted, f"POST bodies for rows without POST: {sorted(set(POST_DATA) - posted)}"


@pytest.mark.parametrize("key", _cases())
def test_access_table(key, world):
    name = _base(key)
    if key not in ACCESS:
        pytest.fail(f"no access rule listed for {key!r}: add its row to ACCESS in {__name__}")
    if name not in URL_NAMES:
        pytest.fail(f"{key!r} is in ACCESS, but no URL pattern is called {name!r} any more")
    try:
        url = reverse(name, args=ARGS[key](world) if key in ARGS else [])
    except NoReverseMatch:
        pytest.fail(f"{key!r} takes arguments: say in ARGS which object of the world they point at")
    data = POST_DATA[key](world) if key in POST_DATA else {}

    failures, known = [], []
    for method, row in ACCESS[key].items():
        for role, rule in zip(ROLES, row, strict=True):
            expected = rule.expected if isinstance(rule, Bug) else rule
            result = attempt(world.people[role], method, url, data if method == POST else None, watch=expected != OK)
            problems = []
            if result.outcome != expected:
                problems.append(f"expected {expected}, got {result.outcome} {result.detail}".rstrip())
            if result.changed:
                problems.append(f"refused, yet changed {', '.join(result.changed)}")
            for problem in problems:
                (known if isinstance(rule, Bug) else failures).append(f"{method} {url} as {role}: {problem}")
    if failures:
        pytest.fail("\n".join(failures + [f"(known) {line}" for line in known]), pytrace=False)
    if known:
        raise KnownAccessBug("\n".join(known))
