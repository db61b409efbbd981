from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from annotations import views, views_audit, views_batches, views_imports, views_people, views_reading

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.signed_in(auth_views.LogoutView.as_view()), name="logout"),
    path("accounts/password/", views_people.password_change, name="password-change"),
    path("people/", views_people.people, name="people"),
    path("people/<int:user_id>/roles/", views_people.person_roles, name="person-roles"),
    path("people/<int:user_id>/active/", views_people.person_active, name="person-active"),
    path(
        "people/<int:user_id>/reset-password/",
        views_people.person_reset_password,
        name="person-reset-password",
    ),
    path("taxonomies/", views.taxonomies, name="taxonomies"),
    path("taxonomies/<int:taxonomy_id>/", views.taxonomy_detail, name="taxonomy-detail"),
    path("exams/", views.exams, name="exams"),
    path("exams/<int:exam_id>/", views.exam_detail, name="exam-detail"),
    path("read/next/", views_reading.reader_next, name="reader-next"),
    path("read/<int:assignment_id>/", views_reading.reader, name="reader"),
    path("read/batches/<int:batch_id>/", views_reading.reader_batch_reads_view, name="reader-batch-reads"),
    # What include("django.conf.urls.i18n") would give, with its access declared.
    path("i18n/setlang/", views.signed_in(set_language), name="set_language"),
    path("imports/", views_imports.imports, name="imports"),
    path("imports/<int:job_id>/", views_imports.import_detail, name="import-detail"),
    path("imports/<int:job_id>/progress/", views_imports.import_progress, name="import-progress"),
    path("batches/", views_batches.batch_list, name="batches"),
    path("batches/new/", views_batches.batch_new, name="batch-new"),
    path("batches/<int:batch_id>/", views_batches.batch_detail, name="batch-detail"),
    path("batches/<int:batch_id>/progress.json", views_batches.batch_progress_json, name="batch-progress"),
    path("batches/<int:batch_id>/close/", views_batches.batch_close_view, name="batch-close"),
    path("batches/<int:batch_id>/reassign/", views_batches.batch_reassign_view, name="batch-reassign"),
    path(
        "batches/<int:batch_id>/add-readers/", views_batches.batch_add_readers_view, name="batch-add-readers"
    ),
    path("batches/<int:batch_id>/add-exams/", views_batches.batch_add_exams_view, name="batch-add-exams"),
    path(
        "batches/<int:batch_id>/skips/<int:assignment_id>/hand-on/",
        views_batches.batch_skip_hand_on_view,
        name="batch-skip-hand-on",
    ),
]

# Model suggestions (issue 7).
from annotations import views_suggestions  # noqa: E402

urlpatterns += [
    path("batches/<int:batch_id>/evidence/", views_suggestions.batch_evidence_view, name="batch-evidence"),
]

# Agreement and adjudication (issue 6).
from annotations import views_agreement  # noqa: E402

urlpatterns += [
    path("batches/<int:batch_id>/agreement/", views_agreement.batch_agreement, name="batch-agreement"),
    path(
        "batches/<int:batch_id>/agreement.csv",
        views_agreement.batch_agreement_csv,
        name="batch-agreement-csv",
    ),
    path(
        "batches/<int:batch_id>/agreement/recompute/",
        views_agreement.batch_agreement_recompute,
        name="batch-agreement-recompute",
    ),
    path("adjudication/", views_agreement.adjudication_queue_view, name="adjudication-queue"),
    path(
        "adjudication/<int:batch_id>/<int:exam_id>/",
        views_agreement.adjudication_case_view,
        name="adjudication-case",
    ),
]

# Label releases (issue 8).
from annotations import views_releases  # noqa: E402

urlpatterns += [
    path("releases/", views_releases.releases, name="releases"),
    path("releases/<int:release_id>/", views_releases.release_detail, name="release-detail"),
    path(
        "releases/<int:release_id>/progress.json",
        views_releases.release_progress_json,
        name="release-progress",
    ),
    path(
        "releases/<int:release_id>/files/<str:name>",
        views_releases.release_file,
        name="release-file",
    ),
    path("releases/<int:release_id>/zip", views_releases.release_zip, name="release-zip"),
    path("audit/", views_audit.audit_list, name="audit"),
    path("audit/export.csv", views_audit.audit_export, name="audit-export"),
]
