"""The documentation stays true to the project: every config option documented, links that lead
somewhere, a README short enough to guide, a module map with every module, and examples that run.

Groups and options are read from conf/ when the test runs, so a new option without a line in
docs/configuration.md fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared_data import shared_data_dir
from zcnas.config import CONFIG_DIR, GROUPS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
ARCHITECTURE = DOCS / "architecture.md"
PACKAGE = ROOT / "src" / "zcnas"

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def config_groups() -> dict[str, list[str]]:
    """Every folder of conf/ that holds options, with its options (the *.yaml stems)."""
    return {d.name: sorted(p.stem for p in d.glob("*.yaml"))
            for d in sorted(CONFIG_DIR.iterdir()) if d.is_dir() and any(d.glob("*.yaml"))}


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    match = re.search(rf"^{re.escape(heading)}\s*$(.*?)(?=^#{{1,{level}}} |\Z)", text, re.S | re.M)
    assert match, f"docs/configuration.md has no heading {heading!r}"
    return match.group(1)


def table_cells(text: str) -> dict[str, str]:
    """A markdown table's rows by their first cell's backticked name: {name: the rest of the row}."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\|\s*`([^`]+)`\s*\|(.*)", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", text))


def markdown_pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), *sorted(ROOT.glob("results/*/README.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        out.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return out


def test_the_groups_of_the_code_are_folders_of_conf():
    assert set(GROUPS) <= set(config_groups())


def test_every_option_of_every_config_group_is_in_the_configuration_reference():
    rows = table_cells(section(CONFIGURATION.read_text(), "## Config groups"))
    missing = {}
    for group, options in config_groups().items():
        assert group in rows, f"docs/configuration.md, 'Config groups', has no row for the group {group!r}"
        lacking = [o for o in options if o not in backticked(rows[group])]
        if lacking:
            missing[group] = lacking
    assert not missing, f"options missing from docs/configuration.md, 'Config groups': {missing}"


def test_every_task_has_its_section_in_the_configuration_reference():
    text = CONFIGURATION.read_text()
    headings = set(re.findall(r"^### task=(\S+)\s*$", text, re.M))
    tasks = config_groups()["task"]
    assert set(tasks) <= headings, f"tasks without a '### task=<name>' section: {sorted(set(tasks) - headings)}"


def test_every_experiment_has_a_row_among_the_presets():
    rows = table_cells(section(CONFIGURATION.read_text(), "## Experiment presets and search_rosters"))
    experiments = config_groups()["experiment"]
    assert set(experiments) <= set(rows), f"presets without a row: {sorted(set(experiments) - set(rows))}"


def test_the_readme_guides_in_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_the_readme_keeps_the_set_up_commands_that_ci_runs():
    text = README.read_text()
    assert re.search(r"^make run\s", text, re.M) and re.search(r"^make test\s", text, re.M)
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_architecture_page_names_every_module_and_no_other():
    listed = set(re.findall(r"^\|\s*`([\w/]+\.py)`\s*\|", ARCHITECTURE.read_text(), re.M))
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    assert not modules - listed, f"modules missing from docs/architecture.md: {sorted(modules - listed)}"
    assert not listed - modules, f"docs/architecture.md names modules that do not exist: {sorted(listed - modules)}"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)


@pytest.mark.slow
@pytest.mark.parametrize("page", [README, DOCS / "api.md"], ids=lambda p: p.name)
def test_the_python_examples_run(page, monkeypatch, capsys):
    blocks = python_blocks(page)
    assert blocks, f"{page.name} has no python example"
    if "../shared/data" in "".join(blocks):
        shared_data_dir()
        if not (ROOT / "../shared/data").is_dir():
            pytest.skip("the examples read ../shared/data, which is elsewhere here (ZCNAS_SHARED_DATA)")
    monkeypatch.chdir(ROOT)  # the examples' paths are relative to the project root
    for code in blocks:
        exec(compile(code, str(page), "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()
