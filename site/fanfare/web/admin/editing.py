"""Editing events, categories and nominees: drafts, preview, publishing, photos."""

from __future__ import annotations

from flask import abort, current_app, g, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge

from fanfare.content import after_publish, audit, catalog, drafts, media, publishing, translations
from fanfare.edge import purge
from fanfare.http import i18n
from fanfare.http.filters import bio
from fanfare.infra import db, redis_client
from fanfare.web.admin import forms
from fanfare.web.admin.base import bp

PLURAL = {"events": "event", "categories": "category", "nominees": "nominee"}
CHILD = {"event": ("category", "categories"), "category": ("nominee", "nominees")}
PARENT_PLURAL = {"category": "events", "nominee": "categories"}
NOTICES = {
    "created": _l("Created. Fans will not see it until you publish it."),
    "saved": _l("Draft saved. Fans still see the published version; preview it, then publish."),
    "published": _l("Published. Fans see it now."),
    "scheduled": _l("Scheduled."),
    "unpublished": _l("Unpublished. Fans no longer see it."),
    "discarded": _l("Draft discarded."),
    "photo": _l("Photo uploaded into the draft. Publish to show it to fans."),
    "revealed": _l("Revealed. Fans see the results as soon as they are final."),
    "reveal-scheduled": _l("Reveal scheduled."),
}


def _kind(plural: str) -> str:
    kind = PLURAL.get(plural)
    if kind is None:
        abort(404)
    return kind


def _check_parent(kind: str, parent_plural: str | None) -> None:
    """Events stand alone; categories live under events and nominees under categories."""
    if parent_plural != PARENT_PLURAL.get(kind):
        abort(404)


def _parse(kind: str, current: dict | None):
    """Validate the submitted form for a kind."""
    if kind == "nominee":
        return forms.nominee(request.form, current["photo_id"] if current else None)
    return forms.event(request.form) if kind == "event" else forms.category(request.form)


def _edit_page(kind: str, target_id: int, *, errors=None, form=None, status: int = 200):
    """The edit page of one row, with its children, state and publishing controls."""
    with db.connection() as conn:
        row = drafts.working_copy(conn, kind, target_id)
        if row is None:
            abort(404)
        children = []
        if kind in CHILD:
            children = drafts.listing(
                conn, CHILD[kind][0], f"WHERE t.{drafts.PARENT[CHILD[kind][0]]} = %s",
                (target_id,),
            )  # fmt: skip
        parent = None
        if kind in drafts.PARENT:
            parent_kind = "event" if kind == "category" else "category"
            parent = drafts.live(conn, parent_kind, row[drafts.PARENT[kind]])
        photo = media.get_photo(conn, row.get("photo_id")) if kind == "nominee" else None
        done = translations.of_row(conn, kind, target_id)
        translated = [(lang, done.get(lang.code)) for lang in i18n.LANGUAGES if lang.prefix]
    body = render_template(
        f"admin/{kind}.html",
        kind=kind,
        row=row,
        children=children,
        parent=parent,
        photo=photo,
        translated=translated,
        status=drafts.status(row, catalog.now()),
        now=catalog.now(),
        errors=errors or {},
        form=form,
        notice=NOTICES.get(request.args.get("done", "")),
    )
    return make_response(body, status)


@bp.get("/")
def dashboard() -> str:
    """Every event, and what changed lately."""
    with db.connection() as conn:
        events = drafts.listing(conn, "event")
        recent = audit.recent(conn, 15)
    return render_template("admin/dashboard.html", events=events, recent=recent, now=catalog.now())


@bp.get("/audit")
def audit_log() -> str:
    """Who did what, when."""
    with db.connection() as conn:
        entries = audit.recent(conn, 500)
    return render_template("admin/audit.html", entries=entries)


@bp.get("/events/new")
@bp.get("/<parent_plural>/<int:parent_id>/<plural>/new")
def new_form(parent_plural: str | None = None, parent_id: int | None = None, plural="events"):
    """An empty form for a new row."""
    kind = _kind(plural)
    _check_parent(kind, parent_plural)
    return render_template(f"admin/new_{kind}.html", kind=kind, parent_id=parent_id, errors={})


@bp.post("/events/new")
@bp.post("/<parent_plural>/<int:parent_id>/<plural>/new")
def create(parent_plural: str | None = None, parent_id: int | None = None, plural="events"):
    """Create an unpublished row and go to its edit page."""
    kind = _kind(plural)
    _check_parent(kind, parent_plural)
    try:
        data = _parse(kind, None)
        with db.connection() as conn:
            new_id = publishing.create(conn, kind, data, g.editor, parent_id)
    except forms.Invalid as exc:
        errors = exc.errors
    except drafts.PublishError as exc:
        errors = {"slug": str(exc)}
    else:
        return redirect(f"/admin/{plural}/{new_id}?done=created", 303)
    body = render_template(
        f"admin/new_{kind}.html", kind=kind, parent_id=parent_id, errors=errors, form=request.form
    )
    return make_response(body, 400)


@bp.get("/<plural>/<int:target_id>")
def edit(plural: str, target_id: int):
    """The edit page."""
    return _edit_page(_kind(plural), target_id)


@bp.post("/<plural>/<int:target_id>")
def save(plural: str, target_id: int):
    """Save the form as the row's draft; fans keep seeing the published version."""
    kind = _kind(plural)
    with db.connection() as conn:
        current = drafts.working_copy(conn, kind, target_id)
        if current is None:
            abort(404)
        try:
            data = _parse(kind, current)
        except forms.Invalid as exc:
            return _edit_page(kind, target_id, errors=exc.errors, form=request.form, status=400)
        drafts.save_draft(conn, kind, target_id, data, g.editor)
    return redirect(f"/admin/{plural}/{target_id}?done=saved", 303)


def _announce(changed: set[str]) -> None:
    """After a COMMIT that fans can see: the one after-publish step."""
    purger = current_app.extensions[purge.EXTENSION]
    after_publish.announce(changed, purger=purger, redis_client=redis_client.client())


@bp.post("/<plural>/<int:target_id>/publish")
def publish(plural: str, target_id: int):
    """Publish now, or at the time given in `publish_at` (UTC)."""
    kind = _kind(plural)
    try:
        at = forms.parse_time(request.form.get("publish_at", ""))
    except ValueError:
        errors = {"publish_at": _("Enter a date and time.")}
        return _edit_page(kind, target_id, errors=errors, status=400)
    if at is not None and at <= catalog.now():
        at = None  # a time in the past means now
    try:
        with db.connection() as conn:
            keys = publishing.publish(conn, kind, target_id, g.editor, at)
    except drafts.PublishError as exc:
        return _edit_page(kind, target_id, errors={"publish": str(exc)}, status=409)
    _announce(keys)
    return redirect(f"/admin/{plural}/{target_id}?done={'scheduled' if at else 'published'}", 303)


@bp.post("/<plural>/<int:target_id>/unpublish")
def unpublish(plural: str, target_id: int):
    """Hide from fans at once."""
    kind = _kind(plural)
    try:
        with db.connection() as conn:
            keys = publishing.unpublish(conn, kind, target_id, g.editor)
    except drafts.PublishError as exc:
        return _edit_page(kind, target_id, errors={"publish": str(exc)}, status=409)
    _announce(keys)
    return redirect(f"/admin/{plural}/{target_id}?done=unpublished", 303)


@bp.post("/<plural>/<int:target_id>/discard")
def discard(plural: str, target_id: int):
    """Throw the draft away."""
    kind = _kind(plural)
    with db.connection() as conn:
        drafts.discard(conn, kind, target_id, g.editor)
    return redirect(f"/admin/{plural}/{target_id}?done=discarded", 303)


@bp.post("/nominees/<int:target_id>/photo")
def upload_photo(target_id: int):
    """Store an uploaded photo and put it into the nominee's draft."""
    request.max_content_length = media.MAX_BYTES + 256 * 1024
    try:
        upload = request.files.get("photo")
        alt = request.form.get("alt", "")
    except RequestEntityTooLarge:
        error = "The photo is larger than 10 MB. Please upload a smaller file."
        return _edit_page("nominee", target_id, errors={"photo": error}, status=413)
    if upload is None or not upload.filename:
        error = "Choose a JPEG, PNG or WebP photo to upload."
        return _edit_page("nominee", target_id, errors={"photo": error}, status=400)
    with db.connection() as conn:
        current = drafts.working_copy(conn, "nominee", target_id)
        if current is None:
            abort(404)
        try:
            photo = media.store(conn, upload.read(), alt, media.media_root())
        except media.PhotoError as exc:
            return _edit_page("nominee", target_id, errors={"photo": str(exc)}, status=400)
        data = {f: current[f] for f in drafts.KINDS["nominee"].fields}
        data["photo_id"] = photo["id"]
        drafts.save_draft(conn, "nominee", target_id, data, g.editor)
        audit.record(conn, g.editor, "upload photo", "nominee", target_id, {"photo": photo["id"]})
    return redirect(f"/admin/nominees/{target_id}?done=photo", 303)


@bp.post("/markdown")
def markdown_preview() -> str:
    """The bio as fans will see it: an htmx fragment under the textarea."""
    return str(bio(request.form.get("bio", "")))


# ---- preview: the fan templates, rendered from drafts ----------------------------------------


def _category_view(row: dict) -> dict:
    """A category working copy shaped like catalog.category(): its current window and state."""
    at = catalog.now()
    ahead = sorted((w for w in row["windows"] if w["closes_at"] > at), key=lambda w: w["opens_at"])
    window = ahead[0] if ahead else max(row["windows"], key=lambda w: w["closes_at"], default=None)
    opens, closes = (window["opens_at"], window["closes_at"]) if window else (None, None)
    row.update(opens_at=opens, closes_at=closes, window_id=window and window.get("id"))
    return catalog.with_state(row, at)


def _nominee_view(conn, row: dict) -> dict:
    """A nominee working copy with its photo fields, as the fan templates expect."""
    photo = media.get_photo(conn, row.get("photo_id")) or {}
    row.update(
        photo_digest=photo.get("digest"),
        photo_width=photo.get("width"),
        photo_height=photo.get("height"),
        photo_alt=photo.get("alt"),
        photo_renditions=photo.get("renditions"),
    )
    return row


def _children(conn, kind: str, parent_id: int) -> list[dict]:
    """Working copies of a row's children, drafts included, in display order."""
    rows = drafts.listing(conn, kind, f"WHERE t.{drafts.PARENT[kind]} = %s", (parent_id,))
    copies = [drafts.working_copy(conn, kind, r["id"]) for r in rows]
    return sorted(copies, key=lambda c: (c["position"], c["id"]))


@bp.get("/<plural>/<int:target_id>/preview")
def preview(plural: str, target_id: int):
    """The fan page as it will look once the draft is published (private, never cached)."""
    page = render_preview(plural, target_id)
    banner = render_template("admin/preview_banner.html", back=f"/admin/{plural}/{target_id}")
    return page.replace("<body>", "<body>" + banner, 1)


def render_preview(
    plural: str, target_id: int, *, language: str | None = None, texts: dict | None = None
) -> str:
    """A fan page rendered from working copies; in `language`, with the published translations
    of every row on it and `texts` (the row's translation draft) over the row itself."""
    kind = _kind(plural)
    with db.connection() as conn:
        row = drafts.working_copy(conn, kind, target_id)
        if row is None:
            abort(404)
        translations.overlay(conn, kind, [row], language)
        row.update(texts or {})
        if kind == "nominee":
            category = drafts.working_copy(conn, "category", row["category_id"])
            translations.overlay(conn, "category", [category], language)
            return render_template(
                "pages/nominee.html",
                nominee=_nominee_view(conn, row),
                category=_category_view(category),
            )
        if kind == "category":
            nominees = [_nominee_view(conn, n) for n in _children(conn, "nominee", target_id)]
            translations.overlay(conn, "nominee", nominees, language)
            return render_template(
                "pages/category.html", category=_category_view(row), nominees=nominees
            )
        categories = [_category_view(c) for c in _children(conn, "category", target_id)]
        translations.overlay(conn, "category", categories, language)
        return render_template("pages/home.html", event=row, categories=categories)
