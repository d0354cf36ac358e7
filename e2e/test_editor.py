"""An editor edits a bio, uploads a photo and publishes; a fan sees both through the edge.
An editor translates a nominee into Korean and publishes it; a fan sees it on /ko/ only."""

from __future__ import annotations

import io
import time

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from fanfare.web.admin.accounts import create_editor
from harness.stack import Stack

pytestmark = [pytest.mark.editor, pytest.mark.local_only]

EMAIL, PASSWORD = "editor@example.org", "a long editor passphrase"
NEW_BIO = "Nova just sold out the **Arena** in one hour."


@pytest.fixture
def editor_stack(databases, redis_url, make_stack, tmp_path) -> Stack:
    """web and edge on a seeded database with an editor account and a private media root."""
    database_url = databases.create_demo()
    with psycopg.connect(database_url) as conn:
        create_editor(conn, EMAIL, PASSWORD)
    return make_stack(
        database_url, redis_url, "web", "edge", FANFARE_MEDIA_ROOT=str(tmp_path / "media")
    )


def portrait_jpeg() -> bytes:
    image = Image.new("RGB", (900, 1200), (107, 47, 214))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class EditorArea:
    """The editor's intentions, as page actions."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(self.base + "/admin/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def open_nominee(self, event: str, category: str, nominee: str) -> None:
        self.page.get_by_role("link", name=event).click()
        self.page.get_by_role("link", name=category).click()
        self.page.get_by_role("link", name=nominee, exact=True).click()

    def save_bio(self, text: str) -> None:
        self.page.get_by_label("Bio").fill(text)
        self.page.get_by_role("button", name="Save draft").click()

    def upload_photo(self, data: bytes, alt: str) -> None:
        self.page.get_by_label("JPEG, PNG or WebP").set_input_files(
            files=[{"name": "nova.jpg", "mimeType": "image/jpeg", "buffer": data}]
        )
        self.page.get_by_label("Describe the photo").fill(alt)
        self.page.get_by_role("button", name="Upload photo").click()

    def publish(self) -> None:
        self.page.get_by_role("button", name="Publish changes").click()

    def open_translation(self, language: str) -> None:
        self.page.get_by_role("link", name=language, exact=True).click()

    def save_translation(self, **texts: str) -> None:
        for label, text in texts.items():
            self.page.get_by_label(label.capitalize()).fill(text)
        self.page.get_by_role("button", name="Save translation draft").click()

    def publish_translation(self) -> None:
        self.page.get_by_role("button", name="Publish translation").click()

    def notice(self):
        return self.page.get_by_role("status")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_editor_publishes_a_bio_and_photo_that_fans_see(
    browser: Browser, editor_stack: Stack, javascript: bool
):
    edge = editor_stack.url()
    editor_context = browser.new_context(java_script_enabled=javascript)
    page = editor_context.new_page()
    fan = browser.new_context()
    fan_page = fan.new_page()
    # The fan page is cached at the edge before the edit, so only a purge can refresh it.
    fan_page.goto(edge + "/nominees/nova-reyes")
    assert fan_page.request.get(edge + "/nominees/nova-reyes").headers["x-cache"] == "HIT"

    editor = EditorArea(page, edge)
    editor.sign_in(EMAIL, PASSWORD)
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    editor.open_nominee("Fan Awards 2026", "Breakthrough Artist", "Nova Reyes")
    editor.save_bio(NEW_BIO)
    expect(editor.notice()).to_contain_text("Draft saved")
    editor.upload_photo(portrait_jpeg(), "Nova Reyes on stage")
    expect(editor.notice()).to_contain_text("Photo uploaded")
    expect(page.get_by_role("img", name="Nova Reyes on stage")).to_be_visible()
    editor.publish()
    expect(editor.notice()).to_contain_text("Published")

    deadline = time.monotonic() + 3
    while "sold out the" not in fan_page.content() and time.monotonic() < deadline:
        fan_page.reload()
    expect(fan_page.locator(".bio")).to_contain_text("Nova just sold out the Arena in one hour.")
    expect(fan_page.locator(".bio strong")).to_have_text("Arena")
    photo = fan_page.get_by_role("img", name="Nova Reyes on stage")
    expect(photo).to_be_visible()
    expect(photo).to_have_attribute("width", "900")
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "/media/" in photo.evaluate("img => img.currentSrc")
    fan.close()
    editor_context.close()


def test_an_editor_publishes_a_korean_translation_that_fans_see_on_ko(
    browser: Browser, editor_stack: Stack
):
    edge = editor_stack.url()
    fan = browser.new_context()
    fan_page = fan.new_page()
    # Both languages' pages are cached before the edit; only the Korean one may be refreshed.
    for path in ("/ko/nominees/nova-reyes", "/nominees/nova-reyes"):
        fan_page.goto(edge + path)
        assert fan_page.request.get(edge + path).headers["x-cache"] == "HIT"
    editor_context = browser.new_context()
    page = editor_context.new_page()
    editor = EditorArea(page, edge)
    editor.sign_in(EMAIL, PASSWORD)
    editor.open_nominee("Fan Awards 2026", "Breakthrough Artist", "Nova Reyes")
    editor.open_translation("한국어")
    editor.save_translation(name="노바 레예스", bio="서울 공연이 **한 시간** 만에 매진됐다.")
    expect(editor.notice()).to_contain_text("Translation draft saved")
    editor.publish_translation()
    expect(editor.notice()).to_contain_text("Translation published")

    fan_page.goto(edge + "/ko/nominees/nova-reyes")
    deadline = time.monotonic() + 3
    while "노바 레예스" not in fan_page.content() and time.monotonic() < deadline:
        fan_page.reload()
    expect(fan_page.get_by_role("heading", level=1)).to_have_text("노바 레예스")
    expect(fan_page.locator(".bio strong")).to_have_text("한 시간")
    expect(fan_page.locator(".lead")).to_have_text("Bedroom pop from Valparaíso")  # fallback
    english = fan_page.request.get(edge + "/nominees/nova-reyes")
    assert english.headers["x-cache"] == "HIT" and "노바 레예스" not in english.text()
    fan.close()
    editor_context.close()
