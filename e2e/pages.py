"""Page objects: what a fan can do on each page, named for intentions. Tests do the asserting."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, Response

RECEIPT_PATH = re.compile(r"/votes/(?P<receipt>[^/?#]+)$")
POLL_EVERY = re.compile(r"every\s+(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s)")


class FanPage:
    """What every fan page has: a URL to open, a main heading, and links in its main content."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")

    def visit(self, path: str, **goto) -> Response | None:
        """Open a path on the site."""
        return self.page.goto(self.base_url + path, **goto)

    @property
    def heading(self) -> Locator:
        """The page's one h1."""
        return self.page.get_by_role("heading", level=1)

    @property
    def main(self) -> Locator:
        """The main content, where the fan's tap targets are."""
        return self.page.locator("main")

    def tap_targets(self) -> Locator:
        """Links, buttons and radio labels in the main content."""
        return self.main.locator(
            "a, button, input[type=submit], label:has(input[type=radio])"
        ).filter(visible=True)


class HomePage(FanPage):
    """The event home: the list of categories."""

    def open(self) -> Response | None:
        """Go to the home page."""
        return self.visit("/")

    @property
    def categories(self) -> Locator:
        """One card per category."""
        return self.page.locator(".categories .card")

    def category_slugs(self) -> list[str]:
        """The slugs the home page links to, in display order."""
        hrefs = self.categories.locator("h2 a").evaluate_all("as => as.map(a => a.pathname)")
        return [href.removeprefix("/awards/") for href in hrefs]

    def open_category(self, name: str) -> CategoryPage:
        """Follow a category's link."""
        self.page.get_by_role("link", name=name, exact=True).click()
        return CategoryPage(self.page, self.base_url)


class CategoryPage(FanPage):
    """A category: its nominees, the vote form while the window is open, and the results."""

    def open(self, slug: str, **goto) -> Response | None:
        """Go to /awards/<slug>."""
        return self.visit(f"/awards/{slug}", **goto)

    @property
    def nominees(self) -> Locator:
        """One card per nominee."""
        return self.page.locator(".nominees .nominee")

    @property
    def vote_form(self) -> Locator:
        """The vote form (present only while the window is open)."""
        return self.page.locator("form.vote-form")

    @property
    def receipt(self) -> Locator:
        """The receipt id in the answer htmx swaps in after a vote."""
        return self.page.locator(".vote-receipt")

    @property
    def confirmation(self) -> Locator:
        """The whole answer to a vote, announced to screen readers as a status."""
        return self.page.get_by_role("status").filter(has=self.receipt)

    def receipt_id(self) -> str:
        """The receipt the answer names."""
        return self.receipt.inner_text().strip()

    def wait_until_enhanced(self) -> None:
        """Wait for htmx (deferred): before it runs, the form posts as plain HTML."""
        self.page.wait_for_function("() => window.htmx !== undefined")

    @property
    def results(self) -> ResultsFragment:
        """The results island the page polls."""
        return ResultsFragment(self.page.locator("#results"))

    def nominee_slugs(self) -> list[str]:
        """The nominee pages this category links to."""
        hrefs = self.nominees.locator("h2 a").evaluate_all("as => as.map(a => a.pathname)")
        return [href.removeprefix("/nominees/") for href in hrefs]

    def open_nominee(self, name: str) -> NomineePage:
        """Follow a nominee's link."""
        self.nominees.get_by_role("link", name=name, exact=True).click()
        return NomineePage(self.page, self.base_url)

    @property
    def results_live_region(self) -> Locator:
        """The stable polite live region the island swaps itself inside."""
        return self.page.locator("[aria-live=polite]").filter(has=self.page.locator("#results"))

    def choice(self, name: str) -> Locator:
        """A nominee's radio button in the vote form."""
        return self.vote_form.get_by_label(name, exact=True)

    def move_between_choices(self, first: str, keys: list[str]) -> None:
        """Focus the first nominee's radio with the keyboard's help, then press the arrow keys."""
        self.choice(first).focus()
        self.page.keyboard.press("Space")  # selects the focused radio, as a keyboard user does
        for key in keys:
            self.page.keyboard.press(key)

    def vote_for(self, name: str) -> None:
        """Choose a nominee by its label and send the form."""
        self.vote_form.get_by_label(name, exact=True).check()
        self.vote_form.get_by_role("button", name=re.compile(r"^Vote")).click()

    def vote_in_any_language(self, name: str) -> None:
        """Choose a nominee and press the form's one submit button, whatever its words."""
        self.vote_form.get_by_label(name, exact=True).check()
        self.vote_form.locator("button[type=submit]").click()

    @property
    def vote_outcome(self) -> Locator:
        """Where htmx shows the answer to a vote: busy and retrying, the receipt, a refusal."""
        return self.page.locator("#vote-outcome")


class VoteRefusedPage(FanPage):
    """The no-JS page of a vote that was not taken; when busy, it offers the same vote again."""

    @property
    def again_form(self) -> Locator:
        """The form that sends the same vote (same choice, same press key) once more."""
        return self.page.locator("form.vote-form")

    def send_again(self) -> None:
        """Press the button that sends the vote again."""
        self.again_form.get_by_role("button", name="Send my vote again").click()


class NomineePage(FanPage):
    """A nominee's page: photo, bio and the way to the category's vote."""

    def open(self, slug: str) -> Response | None:
        """Go to /nominees/<slug>."""
        return self.visit(f"/nominees/{slug}")

    def go_vote(self) -> CategoryPage:
        """Follow the call to action back to the category."""
        self.main.locator("a.button").click()
        return CategoryPage(self.page, self.base_url)


class ResultsFragment:
    """The results island: one element per nominee carrying data-nominee and data-votes."""

    def __init__(self, root: Locator) -> None:
        self.root = root

    def entry(self, name: str) -> Locator:
        """The element for one nominee, found by the name it shows."""
        return self.root.locator("[data-nominee]").filter(has_text=name)

    def votes_of(self, name: str) -> int:
        """The counted votes shown for a nominee."""
        return int(self.entry(name).get_attribute("data-votes") or 0)

    def share_of(self, name: str) -> float:
        """A nominee's share of the counted votes, in percent, from the data attributes."""
        counts = self.root.locator("[data-nominee]").evaluate_all(
            "els => els.map(e => Number(e.dataset.votes))"
        )
        total = sum(counts)
        return 100 * self.votes_of(name) / total if total else 0.0

    @property
    def status(self) -> str | None:
        """live, counting or final, as the island states it."""
        return self.root.get_attribute("data-status")

    def poll_seconds(self) -> float | None:
        """The interval the fragment asks to be polled at, or None once it stopped polling."""
        trigger = self.root.get_attribute("hx-trigger") or ""
        found = POLL_EVERY.search(trigger)
        if found is None:
            return None
        n = float(found["n"])
        return n / 1000 if found["unit"] == "ms" else n


class ResultsPage(FanPage):
    """/awards/<slug>/results: the whole results, for fans without JavaScript."""

    def open(self, slug: str) -> Response | None:
        """Go to the full results page."""
        return self.visit(f"/awards/{slug}/results")

    def open_island(self, slug: str) -> Response | None:
        """Go to the island's own URL, /fragments/awards/<slug>/results, as htmx polls it."""
        return self.visit(f"/fragments/awards/{slug}/results")

    @property
    def results(self) -> ResultsFragment:
        """The results on the page (or the island on its own)."""
        return ResultsFragment(self.page.locator("#results"))


class ReceiptPage(FanPage):
    """/votes/<receipt>: private; says Queued, Counted or Not counted."""

    @property
    def receipt_id(self) -> str | None:
        """The receipt named in the URL."""
        found = RECEIPT_PATH.search(self.page.url.split("?")[0])
        return found["receipt"] if found else None

    def open(self, receipt: str) -> Response | None:
        """Go to /votes/<receipt> (the voter cookie rides along: it is scoped to /votes)."""
        return self.visit(f"/votes/{receipt}")

    def fetch_text(self, receipt: str) -> str:
        """The receipt page's HTML, fetched with the page's cookies but without navigating."""
        return self.page.request.get(f"{self.base_url}/votes/{receipt}").text()

    @property
    def status(self) -> Locator:
        """The main content, which states the vote's status."""
        return self.main


class OpsPage(FanPage):
    """/admin/ops: the operator's live figures, for a signed-in editor."""

    def sign_in(self, email: str, password: str) -> None:
        """Sign in through the editor area's form, coming back to the ops page."""
        self.visit("/admin/login?next=/admin/ops")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def open(self) -> Response | None:
        """Go to /admin/ops."""
        return self.visit("/admin/ops")

    def refresh(self) -> None:
        """Press Refresh (a plain GET form: works without JS)."""
        self.page.get_by_role("button", name="Refresh").click()

    def figure(self, name: str) -> Locator:
        """A figure's card (its class says ok, warn or bad against the threshold)."""
        return self.page.locator(f'.ops-figure[data-figure="{name}"]')

    def value(self, name: str) -> Locator:
        """A figure's current value."""
        return self.page.get_by_test_id(name)


class AccountPage(FanPage):
    """/account: ask for a sign-in link, finish signing in from it, read your rank."""

    def open(self) -> Response | None:
        """Go to the account page."""
        return self.visit("/account")

    def ask_for_link(self, email: str) -> None:
        """Type an address and ask for a sign-in link."""
        self.open()
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_role("button", name="Email me a sign-in link").click()

    def follow_link(self, link: str) -> None:
        """Open the mailed link (at this site) and press Sign in."""
        self.visit("/account/link/" + link.rsplit("/account/link/", 1)[1])
        self.page.get_by_role("button", name="Sign in").click()

    @property
    def my_rank(self) -> Locator:
        """Your own row in the ranking around you."""
        return self.main.locator("ol.around li.me")


class PredictionsPage(FanPage):
    """/predictions: every round and its form."""

    def open(self) -> Response | None:
        """Go to the predictions page."""
        return self.visit("/predictions")

    def predict(self, question: str, option: str) -> None:
        """Pick an option in the round asking `question` and press Predict."""
        card = self.main.locator("li.card", has=self.page.get_by_role("heading", name=question))
        card.get_by_label(option).check()
        card.get_by_role("button", name="Predict").click()

    def answer(self, question: str) -> Locator:
        """Where the htmx answer to a prediction appears."""
        card = self.main.locator("li.card", has=self.page.get_by_role("heading", name=question))
        return card.locator("[aria-live]")


class LeaderboardPage(FanPage):
    """/leaderboard: the cached board, with your own rank loaded privately by htmx."""

    def open(self) -> Response | None:
        """Go to the leaderboard."""
        return self.visit("/leaderboard")

    @property
    def my_rank(self) -> Locator:
        """Your row in the private fragment."""
        return self.page.locator("#my-rank li.me")
