"""reports/index.md: one entry per report, each with its link, its first screen verbatim and the
headline table of its Summary; same reports, same bytes."""

from ablations.analysis.report.index import write_index

ALPHA_SCREEN = """# scratchbench report: grid `alpha`

**Verdicts** (test accuracy, points):

- **digits**: optimizer vs `sgd`: `adam` +1.20 across settings
- **Best on validation**: digits adam, test 95.10 ± 0.20"""
ALPHA_TABLE = """Best configuration per dataset, chosen by mean final validation accuracy:

| dataset   | optimizer   | test acc %   |
|:----------|:------------|:-------------|
| digits    | adam        | 95.10 ± 0.20 |"""
ALPHA = f"""{ALPHA_SCREEN}

![forest_digits.png](figures/alpha/forest_digits.png)

## Runs

- **Runs:** 8 (8 ok)

## Summary

{ALPHA_TABLE}

Findings, each with the test behind it:

| not | this | one |
|---|---|---|

## With and without each component

| nor | this |
|---|---|
"""
BETA_SCREEN = "# scratchbench report: grid `beta`"
BETA = f"""{BETA_SCREEN}

## Runs

- **Runs:** 4 (4 ok)

## Seed variance by source

| dataset | sd |
|---|---|
| digits | 0.1 |
"""
CELLS = "# Every cell of every contrast: grid `alpha`\n\n| cell | pairs |\n|---|---|\n"


def test_the_index_links_each_report_with_its_first_screen_and_headline_table(tmp_path):
    (tmp_path / "beta.md").write_text(BETA)
    (tmp_path / "alpha.md").write_text(ALPHA)
    (tmp_path / "alpha_cells.md").write_text(CELLS)  # a companion file, not a report
    path = write_index(tmp_path)
    assert path == tmp_path / "index.md"
    text = path.read_text()
    alpha = text.index("[reports/alpha.md](alpha.md)")
    beta = text.index("[reports/beta.md](beta.md)")
    assert alpha < beta  # sorted by name, whatever the order the files were written in
    assert text.index(ALPHA_SCREEN) > alpha and text.index(BETA_SCREEN) > beta
    assert text.index(ALPHA_TABLE) < beta  # alpha's headline table, under alpha
    for absent in [
        "forest_digits.png",
        "## Runs",
        "| not | this | one |",
        "| nor | this |",
        "alpha_cells",
        "Every cell",
        "| dataset | sd |",
        "Findings",
    ]:
        assert absent not in text, absent
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_the_index_is_the_same_bytes_on_a_second_call_and_follows_the_reports(tmp_path):
    (tmp_path / "alpha.md").write_text(ALPHA)
    first = write_index(tmp_path).read_bytes()
    assert write_index(tmp_path).read_bytes() == first  # its own index.md is not an entry
    (tmp_path / "beta.md").write_text(BETA)
    assert BETA_SCREEN in write_index(tmp_path).read_text()
    (tmp_path / "alpha.md").unlink()
    assert "alpha" not in write_index(tmp_path).read_text()


def test_the_index_names_the_installed_command_that_rewrites_it(tmp_path):
    text = write_index(tmp_path).read_text()
    assert "`scratchbench --report-only`" in text  # what an installed user types
    assert "`python run_all.py --report-only`" in text  # and in a checkout
