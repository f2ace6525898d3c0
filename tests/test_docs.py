"""The README stays a front page (at most 200 lines), and every relative link in README.md and
docs/*.md points at a file or folder of the checkout."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)  # code blocks hold code, not links


def relative_links(path):
    """The link targets of the markdown file at `path` that name a local file (no URL, no bare
    #anchor), anchors dropped, outside code blocks."""
    text = FENCE.sub("", path.read_text())
    return [
        target.split("#")[0]
        for target in LINK.findall(text)
        if not re.match(r"[a-z]+:", target) and not target.startswith("#")
    ]


def test_the_readme_is_at_most_200_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_the_docs_folder_holds_the_pages_the_readme_promises():
    assert {p.name for p in DOCS[1:]} >= {
        "design.md",
        "cluster.md",
        "performance.md",
        "extending.md",
    }


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_that_exists(path):
    links = relative_links(path)
    missing = [target for target in links if not (path.parent / target).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing {missing}"


def test_the_link_finder_sees_links_and_images_and_skips_urls_and_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "[a](docs/a.md#part) ![b](fig.png) [c](https://x.org/y) [d](#top)\n"
        "```\n[e](in_code.md)\n```\n"
    )
    assert relative_links(page) == ["docs/a.md", "fig.png"]


def test_the_readme_quotes_the_default_report_as_generated():
    """Every line between the README's quote markers is a line of the report it names."""
    text = (ROOT / "README.md").read_text()
    start, end = "<!-- quote: reports/default.md -->", "<!-- end quote -->"
    assert start in text and end in text
    quoted = [line for line in text.split(start)[1].split(end)[0].splitlines() if line.strip()]
    report = set((ROOT / "reports" / "default.md").read_text().splitlines())
    assert len(quoted) >= 5 and all(line in report for line in quoted)
