"""Translating events, categories and nominees: one page per row and language, with drafts.

The same steps as editing the row itself (editing.py): save a draft, publish it now or at a
time, unpublish, discard. The language is its URL prefix (`/admin/nominees/7/translations/ko`),
so an unknown one is a 404 before anything is read or written.
"""

from __future__ import annotations

from flask import abort, g, make_response, redirect, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fanfare.content import catalog, drafts, translations
from fanfare.http import i18n
from fanfare.infra import db
from fanfare.web.admin import forms
from fanfare.web.admin.base import bp
from fanfare.web.admin.editing import PLURAL, _announce, render_preview

NOTICES = {
    "saved": _l("Translation draft saved. Fans still see the published texts; publish it."),
    "published": _l("Translation published. Fans of this language see it now."),
    "scheduled": _l("Translation scheduled."),
    "unpublished": _l("Translation withdrawn. Fans of this language see the default texts."),
    "discarded": _l("Translation draft discarded."),
}


def _target(plural: str, prefix: str) -> tuple[str, i18n.Language]:
    """The kind and the language named by the URL; 404 for anything else."""
    kind = PLURAL.get(plural)
    found = i18n.BY_PREFIX.get(prefix)
    if kind is None or found is None:
        abort(404)
    return kind, found


def _url(plural: str, target_id: int, language: i18n.Language, done: str = "") -> str:
    url = f"/admin/{plural}/{target_id}/translations/{language.prefix}"
    return f"{url}?done={done}" if done else url


def _page(
    plural: str, target_id: int, language: i18n.Language, *, errors=None, form=None, status=200
):
    """The translation form of one row in one language, beside the default-language texts."""
    kind = PLURAL[plural]
    with db.connection() as conn:
        row = drafts.live(conn, kind, target_id)
        if row is None:
            abort(404)
        translation = translations.get(conn, kind, target_id, language.code)
    texts = (translation or {}).get("draft") or (translation or {}).get("texts") or {}
    body = render_template(
        "admin/translation.html",
        plural=plural,
        row=row,
        into=language,
        fields=translations.FIELDS[kind],
        texts=form or texts,  # a refused form comes back as it was typed
        translation=translation,
        errors=errors or {},
        notice=NOTICES.get(request.args.get("done", "")),
    )
    return make_response(body, status)


@bp.get("/<plural>/<int:target_id>/translations/<prefix>")
def translation(plural: str, target_id: int, prefix: str):
    """The translation form."""
    _kind, language = _target(plural, prefix)
    return _page(plural, target_id, language)


@bp.get("/<plural>/<int:target_id>/translations/<prefix>/preview")
def preview_translation(plural: str, target_id: int, prefix: str):
    """The fan page in this language as it will look once the draft is published."""
    kind, language = _target(plural, prefix)
    with db.connection() as conn:
        found = translations.get(conn, kind, target_id, language.code) or {}
    texts = found.get("draft") or found.get("texts") or {}
    g.language = language  # the page's lang, dir, links and strings (http/i18n.py)
    with force_locale(language.code):
        page = render_preview(plural, target_id, language=language.code, texts=texts)
    back = _url(plural, target_id, language)
    banner = render_template("admin/preview_banner.html", back=back)
    return page.replace("<body>", "<body>" + banner, 1)


@bp.post("/<plural>/<int:target_id>/translations/<prefix>")
def save_translation(plural: str, target_id: int, prefix: str):
    """Save the form as the translation's draft; fans keep seeing the published texts."""
    kind, language = _target(plural, prefix)
    try:
        texts = forms.translation(request.form, translations.FIELDS[kind])
    except forms.Invalid as exc:
        errors = exc.errors
        return _page(plural, target_id, language, errors=errors, form=request.form, status=400)
    with db.connection() as conn:
        if drafts.live(conn, kind, target_id) is None:
            abort(404)
        translations.save_draft(conn, kind, target_id, language.code, texts, g.editor)
    return redirect(_url(plural, target_id, language, "saved"), 303)


@bp.post("/<plural>/<int:target_id>/translations/<prefix>/publish")
def publish_translation(plural: str, target_id: int, prefix: str):
    """Publish the draft now, or at the time given in `publish_at` (UTC)."""
    kind, language = _target(plural, prefix)
    try:
        at = forms.parse_time(request.form.get("publish_at", ""))
    except ValueError:
        errors = {"publish_at": _("Enter a date and time.")}
        return _page(plural, target_id, language, errors=errors, status=400)
    if at is not None and at <= catalog.now():
        at = None  # a time in the past means now
    try:
        with db.connection() as conn:
            keys = translations.publish(conn, kind, target_id, language.code, g.editor, at)
    except drafts.PublishError as exc:
        return _page(plural, target_id, language, errors={"publish": str(exc)}, status=409)
    _announce(keys)
    return redirect(_url(plural, target_id, language, "scheduled" if at else "published"), 303)


@bp.post("/<plural>/<int:target_id>/translations/<prefix>/unpublish")
def unpublish_translation(plural: str, target_id: int, prefix: str):
    """Withdraw the published translation at once; its draft stays."""
    kind, language = _target(plural, prefix)
    try:
        with db.connection() as conn:
            keys = translations.unpublish(conn, kind, target_id, language.code, g.editor)
    except drafts.PublishError as exc:
        return _page(plural, target_id, language, errors={"publish": str(exc)}, status=409)
    _announce(keys)
    return redirect(_url(plural, target_id, language, "unpublished"), 303)


@bp.post("/<plural>/<int:target_id>/translations/<prefix>/discard")
def discard_translation(plural: str, target_id: int, prefix: str):
    """Throw the translation's draft away."""
    kind, language = _target(plural, prefix)
    with db.connection() as conn:
        if drafts.live(conn, kind, target_id) is None:
            abort(404)
        translations.discard(conn, kind, target_id, language.code, g.editor)
    return redirect(_url(plural, target_id, language, "discarded"), 303)
