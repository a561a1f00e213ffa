"""The OpenMetrics project's parser cases: in OpenMetrics mode the core accepts and rejects
exactly what they say (tests/fixtures/openmetrics-conformance, with its license and provenance)."""

import json

import pytest
from common import FIXTURES

from datadog_checks.nvidia_nim import _core

CASES_DIR = FIXTURES / 'openmetrics-conformance'
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / 'test.json').is_file())


def parses(body: bytes) -> bool:
    scraper = _core.Scraper({'static_tags': []})
    _records, error = scraper.scrape(body, 'application/openmetrics-text; version=1.0.0', False, lambda *a: None)
    return error is None


@pytest.mark.parametrize('case', CASES)
def test_conformance_case(case):
    spec = json.loads((CASES_DIR / case / 'test.json').read_text())
    body = (CASES_DIR / case / spec['file']).read_bytes()
    assert parses(body) == spec['shouldParse']


def test_all_211_cases_are_present():
    assert len(CASES) == 211
