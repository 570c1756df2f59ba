"""Accessibility checks for the browser tests: axe-core (axe-playwright-python's bundled copy)
on a page state, failing on any serious or critical violation and on the rules the project has
fixed once and keeps fixed; and a check that a page fits its viewport without scrolling
sideways (moderator pages on a 390 px phone)."""

from axe_playwright_python.sync_playwright import Axe

BLOCKING_IMPACTS = ("serious", "critical")
# Fixed once (issue 13), kept fixed whatever impact axe gives them.
ALWAYS_BLOCKING = {"page-has-heading-one", "listitem", "aria-allowed-role"}

_axe = Axe()
checked: list[str] = []


def assert_accessible(page, state: str, *, once: bool = False) -> None:
    """Run axe-core on the page as it is now; `state` names it in the failure message. With
    `once`, a state already checked in this test session is not checked again."""
    if once and state in checked:
        return
    page.wait_for_load_state("load")
    violations = _axe.run(page).response["violations"]
    blocking = [
        v for v in violations if v["impact"] in BLOCKING_IMPACTS or v["id"] in ALWAYS_BLOCKING
    ]
    checked.append(state)
    assert not blocking, f"axe-core on {state} ({page.url}):\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )


def assert_fits_viewport(page, state: str) -> None:
    """No horizontal scrolling: the document is no wider than the viewport."""
    width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if width[0] > width[1]:
        wide = page.evaluate(WIDEST)
        raise AssertionError(
            f"{state} ({page.url}) is {width[0]} px wide in {width[1]} px; too wide: {wide}"
        )


# The elements reaching past the viewport's right edge, outside any sideways-scrolling box.
WIDEST = """() => {
  const limit = document.documentElement.clientWidth + 1;
  const scrolls = (e) => { for (let p = e.parentElement; p && p !== document.body;
    p = p.parentElement) { if (getComputedStyle(p).overflowX !== "visible" &&
      p.getBoundingClientRect().right <= limit) return true; } return false; };
  return Array.from(document.querySelectorAll("body *"))
    .filter((e) => e.getBoundingClientRect().right > limit && !scrolls(e))
    .slice(0, 8)
    .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
      (typeof e.className === "string" && e.className ? "." + e.className : "") +
      " " + Math.round(e.getBoundingClientRect().right) + "px");
}"""
