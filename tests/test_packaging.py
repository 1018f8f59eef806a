"""The Python versions relaywire claims are the ones CI tests: ``requires-python``, the
classifiers, the README's Reliability section and the interpreters ``.ci/pythons`` runs (plus
the default one of the README's test command) agree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def versions(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text))


def test_claimed_and_tested_versions_agree() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    readme = (ROOT / "README.md").read_text()
    matrix = (ROOT / ".ci" / "pythons").read_text()

    assert re.search(r'^requires-python = ">=3\.10"$', pyproject, re.MULTILINE)
    classifiers = versions(pyproject, r'"Programming Language :: Python :: (3\.\d+)"')
    line = next(line for line in readme.splitlines() if "Python versions tested" in line)
    in_readme = versions(line, r"\b(3\.\d+)\b")
    # .ci/pythons names pyenv versions (3.10.13): the others; the default one is the README's.
    other = versions(matrix, r"versions/(3\.\d+)\.\d+/bin/python")
    default = versions(line, r"default (3\.\d+)")

    assert classifiers == in_readme == other | default
    assert min(classifiers, key=lambda v: tuple(map(int, v.split(".")))) == "3.10"
    assert len(default) == 1 and not default & other
