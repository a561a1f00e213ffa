"""The OpenMetrics project's parser cases: in OpenMetrics mode the core accepts and rejects
exactly what they say (tests/fixtures/openmetrics-conformance, with its license and provenance)."""

import json

import pytest
from common import FIXTURES

from datadog_checks.nvidia_nim import _core
from datadog_checks.nvidia_nim.config import ScraperSettings

CASES_DIR = FIXTURES / 'openmetrics-conformance'
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / 'test.json').is_file())


def parses(body: bytes) -> bool:
    settings = ScraperSettings(None, {'openmetrics_endpoint': 'http://127.0.0.1:1/metrics'})
    scraper = _core.Scraper(settings.core_options)
    content_type = 'application/openmetrics-text; version=1.0.0'
    _records, error = scraper.scrape(body, content_type=content_type, use_latest_spec=False, resolver=lambda *a: None)
    return error is None


@pytest.mark.parametrize('case', CASES)
def test_conformance_case(case):
    spec = json.loads((CASES_DIR / case / 'test.json').read_text())
    body = (CASES_DIR / case / spec['file']).read_bytes()
    assert parses(body) == spec['shouldParse']


def test_all_211_cases_are_present():
    assert len(CASES) == 211
