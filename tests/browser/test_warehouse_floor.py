"""The warehouse floor in a real browser (issue 26): a keyboard-wedge scanner faster than the API, labels
scanned back into their screens, 4x6 labels as one printed page, the review queue's pages and a phone.
Each test drives the console against the real local stack (under the stack lock)."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser import flows

# Slows POST /staff/inbound in the page (0.4-1.2 s, as a busy API) and loses two answers: the 4th scan's
# request never leaves (network error), the 9th is recorded by the API but its answer is lost.
SLOW_INBOUND = """
(() => {
  const real = window.fetch.bind(window);
  let n = 0;
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    if (!url.endsWith("/staff/inbound") || (init && init.method) !== "POST") return real(input, init);
    n += 1;
    const mine = n;
    await new Promise((r) => setTimeout(r, 400 + ((mine * 373) % 800)));
    if (mine === 4) throw new TypeError("Failed to fetch");
    const answer = await real(input, init);
    if (mine === 9) throw new TypeError("Failed to fetch");
    return answer;
  };
})();
"""


def _exceptional_tracking_numbers(http) -> set[str]:
    found, cursor = set(), None
    while True:
        params = {"status": "exceptional", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = flows.ok(http.call("GET", "/staff/parcels", user=flows.WAREHOUSE, params=params))
        found |= {p["tracking_no"] for p in page["items"]}
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def test_twenty_parcels_scanned_at_five_a_second_against_a_slow_api_are_twenty_parcels(console, http):
    page = console.page
    page.add_init_script(SLOW_INBOUND)
    console.sign_in(flows.WAREHOUSE)
    scan = page.get_by_label("Tracking number (scan)")
    expect(scan).to_be_focused()
    numbers = [f"SF{uuid.uuid4().hex[:12].upper()}" for _ in range(20)]
    for number in numbers:  # a wedge scanner: characters then Enter, 5 parcels a second, never waiting
        page.keyboard.type(number)
        page.keyboard.press("Enter")
        page.wait_for_timeout(200)
    history = page.get_by_role("list", name="Scans on this screen")
    expect(history.locator("li[data-state=pending]").first).to_be_visible()  # queued, shown as pending
    expect(page.locator(".scan-count")).to_have_text("Every scan is sent.", timeout=90_000)
    rows = history.locator("li")
    expect(rows).to_have_count(20)
    shown = [rows.nth(n).get_attribute("data-tracking") for n in range(20)]
    assert shown == numbers[::-1]  # newest first, each scan whole: nothing merged or truncated
    states = [rows.nth(n).get_attribute("data-state") for n in range(20)]
    assert set(states) <= {"exceptional", "already"}, states
    assert states.count("already") == 1  # the scan whose answer was lost: recorded by its first try
    expect(history).to_contain_text("recorded by an earlier try")
    console.shot("inbound-queue")
    assert set(numbers) <= _exceptional_tracking_numbers(http)


def test_a_scan_the_api_refuses_is_shown_as_not_recorded_and_the_next_scans_go_on(console, http):
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    expect(page.get_by_label("Tracking number (scan)")).to_be_focused()
    good = f"YT{uuid.uuid4().hex[:12].upper()}"
    for number in ("??", good):
        page.keyboard.type(number)
        page.keyboard.press("Enter")
    history = page.get_by_role("list", name="Scans on this screen")
    expect(history.locator("li[data-tracking='??']")).to_contain_text("Not recorded")
    expect(history.locator(f"li[data-tracking='{good}']")).to_contain_text("Exceptional")
    expect(page.get_by_role("alert")).to_contain_text("?? not recorded")
