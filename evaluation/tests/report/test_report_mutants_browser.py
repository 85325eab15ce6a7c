"""The report's mutants section in a real browser (headless Chromium, as test_report_browser.py): the score,
the survivors first with their diffs, the kill matrix with the first kill marked, and the operators."""

from __future__ import annotations

import json

import pytest
from chromium import FLAGS, chromium_path
from taskfactory import mutants_task

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed: pip install -e '.[dev]'"
)
CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium on this machine: install the OS package (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def mutants_grade(tmp_path_factory):
    from conftest import run_cli

    root = tmp_path_factory.mktemp("mutants-report")
    task = mutants_task(root / "task")
    result = run_cli("mutants", str(task), "--output", str(root / "out"), "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "out", json.loads((root / "out" / "results.json").read_text(encoding="utf-8"))


def test_the_mutants_section_shows_survivors_first_and_the_kill_matrix(mutants_grade, tmp_path):
    out, data = mutants_grade
    mutants = data["mutants"]
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto((out / "report.html").as_uri())
        page.click("nav.sections a[href='#mutants']")
        section = page.locator("#mutants")
        assert section.is_visible()
        assert f"score {mutants['score']:.2f}" in page.locator("#mutants-score").inner_text()

        # Survivors first, each with the requirement it breaks and its diff; the killed ones folded away.
        survivors = [m for m in mutants["mutants"] if m["status"] == "survived"]
        cards = page.locator("article.mutant.survivor")
        assert cards.count() == len(survivors) >= 1
        first = cards.nth(0)
        assert survivors[0]["id"] in first.inner_text() and survivors[0]["requirement"] in first.inner_text()
        assert first.locator("pre.diff span.add, pre.diff span.del").count() >= 1
        assert page.locator("details.mutants-others").evaluate("d => d.open") is False
        box_survivors = first.bounding_box()
        box_matrix = page.locator("#kill-matrix").bounding_box()
        assert box_survivors is not None and box_matrix is not None and box_survivors["y"] < box_matrix["y"]

        # The matrix: one row per mutant, survivors on top, one column per suite test, one K per killed mutant.
        rows = page.locator("#kill-matrix tbody tr")
        assert rows.count() == len(mutants["mutants"])
        assert rows.nth(0).get_attribute("class") == "survived"
        assert page.locator("#kill-matrix thead th").count() == 2 + len(mutants["tests"])
        killed = sum(1 for m in mutants["mutants"] if m["status"] in ("killed", "killed_under_stress"))
        assert page.locator("#kill-matrix td.first-kill").count() == killed
        for m in mutants["mutants"]:
            if m["killed_by"]:
                column = mutants["tests"].index(m["killed_by"])
                row = page.locator(f"#kill-matrix tbody tr:has(a[href='#mutant-{m['id']}'])")
                assert row.locator("td.cell").nth(column).inner_text() == "K"
        # A row's link opens that mutant's card.
        killed_one = next(m for m in mutants["mutants"] if m["status"] == "killed")
        page.click(f"#kill-matrix a[href='#mutant-{killed_one['id']}']")
        page.locator("details.mutants-others").evaluate("d => d.open = true")
        assert page.locator(f"#mutant-{killed_one['id']}").is_visible()

        operators = page.locator("#mutant-operators tbody tr")
        assert operators.count() == len(mutants["operators"])
        assert page.locator("#mutant-operators tr.not_applicable").count() == sum(
            1 for op in mutants["operators"] if op["status"] == "not_applicable"
        )
        section.screenshot(path=str(tmp_path / "mutants-section.png"))
        browser.close()
    assert problems == [], problems
