"""Each conformance suite passes a correct provider and fails a broken one.

The suites are run as a plugin author runs them: a test module that subclasses the suite,
in a fresh pytest session with no configuration of its own (pytester).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SUITES = {
    "AcmePaySuite": "gateway_class",
    "MemoryChannelSuite": "channel_class",
    "MemorySearchSuite": "backend_class",
    "MemoryStoreSuite": "store_class",
    "HelvetiaSuite": "region_class",
}


def run_suite(pytester: pytest.Pytester, suite: str, provider: str | None) -> pytest.RunResult:
    swap = f"    {SUITES[suite]} = reference.{provider}\n" if provider else "    pass\n"
    pytester.makepyfile(
        test_author=f"from tests.testing import reference\n\n\n"
        f"class TestProvider(reference.{suite}):\n{swap}"
    )
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-rf")


def failed_tests(result: pytest.RunResult) -> set[str]:
    prefix = "FAILED test_author.py::TestProvider::"
    return {
        line.removeprefix(prefix).split(" ")[0].split("[")[0]
        for line in result.outlines
        if line.startswith(prefix)
    }


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_a_correct_provider_passes(pytester: pytest.Pytester, suite: str) -> None:
    result = run_suite(pytester, suite, None)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5, result.outlines
    assert "failed" not in outcomes, failed_tests(result)
    assert "errors" not in outcomes, result.outlines


BROKEN = [
    ("AcmePaySuite", "WebhooksAlwaysIgnored", {"test_signed_webhooks_decode"}),
    (
        "AcmePaySuite",
        "SignatureNotChecked",
        {"test_webhooks_without_a_valid_signature_are_rejected"},
    ),
    ("AcmePaySuite", "ChargesOnEveryRetry", {"test_create_payment_is_idempotent_per_key"}),
    ("AcmePaySuite", "TakesUndeclaredCurrencies", {"test_declared_currencies_are_true"}),
    ("AcmePaySuite", "StatusNeverMoves", {"test_fetch_status_follows_the_payment"}),
    ("AcmePaySuite", "KnowsEveryReference", {"test_fetch_status_refuses_unknown_references"}),
    ("AcmePaySuite", "RefundsOnEveryRetry", {"test_refunds_are_idempotent"}),
    ("AcmePaySuite", "PartialRefundsRefused", {"test_partial_refunds_as_declared"}),
    ("AcmePaySuite", "CrashesOnGarbage", {"test_garbage_is_refused_not_crashing"}),
    ("MemoryChannelSuite", "SaysDeliveredButDrops", {"test_every_kind_arrives_whole"}),
    ("MemoryChannelSuite", "RaisesOnBadAddresses", {"test_bad_addresses_fail_for_good"}),
    ("MemoryChannelSuite", "PassesHeaderInjection", {"test_header_injection_is_refused"}),
    ("MemoryChannelSuite", "ManglesNonAscii", {"test_every_kind_arrives_whole"}),
    ("MemorySearchSuite", "IgnoresKinds", {"test_index_search_replace_remove"}),
    (
        "MemorySearchSuite",
        "AppendsInsteadOfReplacing",
        {"test_index_search_replace_remove", "test_indexing_twice_keeps_one_copy_and_limit_holds"},
    ),
    ("MemorySearchSuite", "IgnoresLimit", {"test_indexing_twice_keeps_one_copy_and_limit_holds"}),
    ("MemorySearchSuite", "ChokesOnQuotes", {"test_any_text_is_a_valid_query"}),
    ("MemoryStoreSuite", "NeverReplaces", {"test_put_replace_delete"}),
    ("MemoryStoreSuite", "AcceptsUnsafeKeys", {"test_unsafe_keys_are_refused"}),
    ("MemoryStoreSuite", "DeletesEverything", {"test_keys_are_separate"}),
    (
        "HelvetiaSuite",
        "FloatPercent",
        {"test_every_place_has_a_treatment", "test_real_examples"},
    ),
    ("HelvetiaSuite", "RoundsDown", {"test_real_examples"}),
    ("HelvetiaSuite", "RatesRunOut", {"test_every_place_has_a_treatment"}),
    ("HelvetiaSuite", "AnswersForAnotherCountry", {"test_every_place_has_a_treatment"}),
    ("HelvetiaSuite", "SubdivisionsOfAnotherCountry", {"test_declares_what_it_is"}),
    ("HelvetiaSuite", "InvoiceFieldsUnknown", {"test_states_its_business_rules"}),
    ("HelvetiaSuite", "TaxIdsStdnumDoesNotKnow", {"test_states_its_business_rules"}),
    ("HelvetiaSuite", "KeepsWhatTheCoreDoesNot", {"test_states_its_privacy_regime"}),
    ("HelvetiaSuite", "OldRateForever", {"test_real_examples"}),
]


@pytest.mark.parametrize(("suite", "provider", "expected"), BROKEN, ids=[b[1] for b in BROKEN])
def test_a_broken_provider_fails(
    pytester: pytest.Pytester, suite: str, provider: str, expected: set[str]
) -> None:
    result = run_suite(pytester, suite, provider)
    assert result.ret != 0
    assert expected <= failed_tests(result), result.outlines[-30:]


def test_the_suites_need_to_see_for_themselves(pytester: pytest.Pytester) -> None:
    """A channel suite that cannot look at what arrived, or a region suite without real
    examples, fails and says what to add, rather than taking the provider's word."""
    pytester.makepyfile(
        test_author="""
import pytest
from boxoffice.testing import ComplianceRegionConformance, NotificationChannelConformance
from tests.testing.reference import Helvetia, MemoryChannel


class TestChannel(NotificationChannelConformance):
    @pytest.fixture
    def channel(self):
        return MemoryChannel()


class TestRegion(ComplianceRegionConformance):
    @pytest.fixture
    def region(self):
        return Helvetia()
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.stdout.fnmatch_lines(["*override delivered()*"])
    result.stdout.fnmatch_lines(["*give the region's real cases as a tax_examples fixture*"])
    assert result.ret != 0
