"""The kit in a fresh virtual environment with only boxoffice and pytest installed.

A third-party plugin's conformance tests run green there with no configuration at all, and
an unrelated project's pytest run in the same environment is unaffected (no import error,
no warning, no fixture of its own shadowed). This is the slowest test of the suite (a real
``pip install`` of boxoffice's wheel and its pinned dependencies): it runs in parallel with
the others.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

PLUGIN = '''
"""AcmePay and a Swiss region pack: a third party's boxoffice plugin."""
import hashlib, hmac, json, uuid
from datetime import date
from decimal import Decimal

from boxoffice import (BusinessRules, GatewayCapability, HealthState, NotFound, PaymentResult,
                       PaymentStatus, PrivacyRegime, ProviderHealth, RefundResult, RuleViolated,
                       TaxComponent, TaxTreatment,
                       WebhookEvent,
                       WebhookRejected, hookimpl)

SECRET = b"whsec_acme"


class AcmePay:
    id = "acmepay"
    display_name = "AcmePay"
    currencies = frozenset({"CHF", "EUR"})
    countries = None
    capabilities = frozenset({GatewayCapability.REDIRECT, GatewayCapability.REFUND,
                              GatewayCapability.PARTIAL_REFUND, GatewayCapability.WEBHOOKS})

    def __init__(self):
        self.payments, self.by_key, self.refunds = {}, {}, {}

    async def create_payment(self, request):
        if request.amount.currency not in self.currencies:
            raise RuleViolated(f"no {request.amount.currency}")
        if request.idempotency_key not in self.by_key:
            reference = "acme_" + uuid.uuid4().hex
            self.payments[reference] = PaymentStatus.PENDING
            self.by_key[request.idempotency_key] = PaymentResult(
                PaymentStatus.PENDING, reference, redirect_url=f"https://acme.test/{reference}")
        return self.by_key[request.idempotency_key]

    async def refund(self, request):
        if request.provider_reference not in self.payments:
            raise NotFound("unknown payment")
        return self.refunds.setdefault(
            request.idempotency_key, RefundResult(True, "re_" + uuid.uuid4().hex))

    async def parse_webhook(self, headers, body):
        expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("acme-signature", ""), expected):
            raise WebhookRejected("bad signature")
        data = json.loads(body)
        return WebhookEvent(data["id"], data["payment"], PaymentStatus(data["status"]))

    async def fetch_status(self, provider_reference):
        if provider_reference not in self.payments:
            raise NotFound("unknown payment")
        return self.payments[provider_reference]

    async def health(self):
        return ProviderHealth(HealthState.UP)


class Switzerland:
    id = "ch"
    name = "Switzerland"
    countries = frozenset({"CH"})
    subdivisions = frozenset()   # one rule nationwide: no canton to name
    organizer_sets_rates = False  # the law sets the rate, not the seller
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
        tax_id_kind="vat",  # checked with python-stdnum: CHE-123.456.789 MWST
    )
    privacy = PrivacyRegime(
        law="nFADP",
        retention_days={"orders": 3653, "checkins": 365},
        privacy_contact_required=True,
    )

    def tax_treatment(self, query):
        if query.country != "CH":
            return None
        percent = Decimal("8.1") if query.on >= date(2024, 1, 1) else Decimal("7.7")
        mwst = TaxComponent(name="MWST", jurisdiction="CH", percent=percent)
        return TaxTreatment(components=(mwst,), inclusive=True)


@hookimpl
def register_payment_gateways(context):
    return [AcmePay()]


@hookimpl
def register_compliance_regions(context):
    return [Switzerland()]
'''

PLUGIN_TESTS = """
import hashlib, hmac, json
from datetime import date

import pytest
from boxoffice import Money, PaymentStatus
from boxoffice.testing import ComplianceRegionConformance, PaymentGatewayConformance, TaxExample

from boxoffice_acme import SECRET, AcmePay, Switzerland


class TestAcmePay(PaymentGatewayConformance):
    @pytest.fixture
    def currency(self):
        return "CHF"

    @pytest.fixture
    def gateway(self):
        return AcmePay()

    async def settle(self, gateway, payment):
        gateway.payments[payment.provider_reference] = PaymentStatus.SUCCEEDED
        return True

    def signed_webhook(self, gateway, payment, status):
        body = json.dumps({"id": f"evt_{payment.provider_reference}_{status}",
                           "payment": payment.provider_reference, "status": status}).encode()
        return {"acme-signature": hmac.new(SECRET, body, hashlib.sha256).hexdigest()}, body


class TestSwitzerland(ComplianceRegionConformance):
    @pytest.fixture
    def region(self):
        return Switzerland()

    @pytest.fixture
    def tax_examples(self):
        return [TaxExample("CH", date(2024, 6, 1), Money(10000, "CHF"), (Money(749, "CHF"),))]


@pytest.mark.anyio
async def test_the_kit_gives_a_database_on_both_engines(boxoffice_db, boxoffice_db_engine):
    await boxoffice_db.ping()
    assert boxoffice_db.dialect == boxoffice_db_engine
"""

UNRELATED_TESTS = """
import pytest


@pytest.fixture
def db():
    return {"mine": True}


@pytest.fixture
def clock():
    return "tick"


def test_my_own_fixtures_win(db, clock):
    assert db == {"mine": True}
    assert clock == "tick"
"""


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_", "VIRTUAL"))}
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding boxoffice's wheel, its pinned dependencies and
    pytest: nothing from boxoffice's test extra."""
    repo = Path(__file__).resolve().parents[2]
    work = tmp_path_factory.mktemp("bare")
    # Each test process has this module-scoped fixture; both would build in the source
    # tree's build/ folder at once. The folder above the processes' own is theirs to share.
    with (tmp_path_factory.getbasetemp().parent / "wheel.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            work / "wheels",
            repo,
        )
    wheel = next((work / "wheels").glob("boxoffice-*.whl"))
    with zipfile.ZipFile(wheel) as packed:  # the docs page's assets ship in the wheel
        assert "boxoffice/api/static/swagger-ui/swagger-ui-bundle.js" in packed.namelist()
    _run(sys.executable, "-m", "venv", work / "venv")
    python = work / "venv" / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        repo / "constraints.txt",
        wheel,
        "pytest",
    )
    return python


def test_only_what_boxoffice_declares(bare_python: Path) -> None:
    installed = _run(bare_python, "-m", "pip", "list", "--format=freeze")
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert {"boxoffice", "pytest", "anyio"} <= names
    assert not names & {"pytest-asyncio", "pytest-xdist", "pytest-cov", "trio"}


def test_a_third_party_plugins_conformance_tests_pass(bare_python: Path, tmp_path: Path) -> None:
    (tmp_path / "boxoffice_acme.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "test_acme.py").write_text(textwrap.dedent(PLUGIN_TESTS))
    output = _run(bare_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary, output
    assert "failed" not in summary, output
    assert "error" not in summary, output
    assert "warning" not in output.lower(), output
    counts = dict(reversed(part.split()) for part in summary.split(" in ")[0].split(", "))
    # 13 + 6 + (6 + 2) suite tests (garbage parametrized 5 ways), the database on 2 engines
    assert int(counts["passed"]) >= 20, output


def test_an_unrelated_project_is_unaffected(bare_python: Path, tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(textwrap.dedent(UNRELATED_TESTS))
    output = _run(bare_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert output.strip().splitlines()[-1].startswith("1 passed"), output
    assert "warning" not in output.lower(), output
    plugins = _run(
        bare_python,
        "-m",
        "pytest",
        "--co",
        "-q",
        "-p",
        "no:cacheprovider",
        "--trace-config",
        cwd=tmp_path,
    )
    assert "boxoffice.testing.plugin" in plugins, "the kit is active, and harmless"
