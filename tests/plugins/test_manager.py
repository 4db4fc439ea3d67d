"""Loading plugins: entry points, enable/disable lists, broken and misbehaving plugins, and a
real third-party distribution installed with pip."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from boxoffice import hookimpl
from boxoffice.core.clock import ManualClock
from boxoffice.core.storage import Database, create_engine
from boxoffice.plugins.config import parse_config
from boxoffice.plugins.manager import load_plugins
from boxoffice.plugins.routing import Router
from boxoffice.providers import offline

#: Engines connect lazily: a configuration check never opens this file.
DB = Database(create_engine("sqlite+aiosqlite:////tmp/boxoffice-config-check/never.sqlite3"))


def load(text: str = "", extra: list[tuple[str, object]] | None = None, entry_points: bool = True):  # type: ignore[no-untyped-def]
    return load_plugins(
        parse_config(text),
        data_dir=Path("/tmp/unused"),
        clock=ManualClock(),
        database=DB,
        extra_plugins=extra or [],
        use_entry_points=entry_points,
        environ={},
    )


def test_bundled_plugins_come_from_entry_points_like_any_other() -> None:
    plugins = load()
    by_name = {p.name: p for p in plugins.info}
    assert {"offline", "log", "dbsearch", "eu"} <= set(by_name)
    assert by_name["offline"].distribution.startswith("boxoffice ")
    assert by_name["offline"].hooks == ["register_payment_gateways"]
    assert by_name["eu"].providers == ["region:eu"]
    assert plugins.problems == []


def test_enable_and_disable_lists() -> None:
    plugins = load('[plugins]\nenabled = ["offline", "eu"]\ndisabled = ["eu", "nope"]\n')
    assert set(plugins.providers.payment) == {"offline"}
    assert plugins.providers.region == {}
    assert [str(p) for p in plugins.problems] == [
        "plugins.toml:3: plugins.disabled[1]: no installed plugin is named 'nope'"
    ]


def test_a_broken_plugin_is_reported_and_the_others_still_load() -> None:
    class Exploding:
        @hookimpl
        def register_payment_gateways(self) -> list[object]:
            raise RuntimeError("no API key")

    class Impostor:
        @hookimpl
        def register_search_backends(self) -> list[object]:
            return [SimpleNamespace(id="fake")]

    class SecondOffline:
        @hookimpl
        def register_payment_gateways(self) -> list[object]:
            return [offline.OfflineGateway()]

    plugins = load(
        extra=[("exploding", Exploding()), ("impostor", Impostor()), ("offline2", SecondOffline())],
        entry_points=True,
    )
    messages = [str(p) for p in plugins.problems]
    assert any(
        "'exploding': register_payment_gateways failed: RuntimeError: no API key" in m
        for m in messages
    ), messages
    assert any(
        "'impostor' returned" in m and "does not satisfy SearchBackend" in m for m in messages
    ), messages
    assert any(
        "payment provider id 'offline' is registered by both 'offline' and 'offline2'" in m
        for m in messages
    ), messages
    assert "offline" in plugins.providers.payment


def test_a_plugin_that_fails_to_import_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    broken = md.EntryPoint(name="ghost", value="boxoffice_no_such_module", group="boxoffice")
    real = md.entry_points

    def fake_entry_points(**kwargs: str):  # type: ignore[no-untyped-def]
        return [*real(**kwargs), broken]

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    plugins = load()
    ghost = next(p for p in plugins.info if p.name == "ghost")
    assert ghost.error.startswith("failed to load: ModuleNotFoundError")
    assert any("plugin 'ghost' failed to load" in str(p) for p in plugins.problems)


THIRD_PARTY_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "boxoffice-acmepay"
version = "1.2.3"

[project.entry-points.boxoffice]
acmepay = "boxoffice_acmepay"
"""

THIRD_PARTY_MODULE = """
from boxoffice import GatewayCapability, PaymentResult, PaymentStatus, ProviderHealth, HealthState
from boxoffice import hookimpl
import msgspec



class Options(msgspec.Struct):
    merchant: str


class AcmePay:
    id = "acmepay"
    display_name = "AcmePay"
    currencies = frozenset({"SEK"})
    countries = None
    capabilities = frozenset({GatewayCapability.REDIRECT})

    def __init__(self, options):
        self.merchant = options.merchant

    async def create_payment(self, request):
        return PaymentResult(status=PaymentStatus.PENDING,
                             provider_reference="acme-" + request.payment_id)

    async def refund(self, request):
        raise NotImplementedError

    async def parse_webhook(self, headers, body):
        return None

    async def fetch_status(self, provider_reference):
        return PaymentStatus.PENDING

    async def health(self):
        return ProviderHealth(HealthState.UP)


@hookimpl
def register_payment_gateways(context):
    return [AcmePay(context.options("acmepay", Options))]
"""


@pytest.fixture(scope="module")
def acmepay_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` a throwaway distribution with its own pyproject and entry point."""
    source = tmp_path_factory.mktemp("acmepay-src")
    (source / "pyproject.toml").write_text(THIRD_PARTY_PYPROJECT)
    (source / "boxoffice_acmepay.py").write_text(textwrap.dedent(THIRD_PARTY_MODULE))
    target = tmp_path_factory.mktemp("acmepay-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_a_pip_installed_plugin_is_discovered_and_routed_to(
    acmepay_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(acmepay_site))
    config = (
        '[providers.acmepay]\nmerchant = "m-1"\n\n'
        '[[routing.payments]]\ncurrency = "SEK"\nproviders = ["acmepay", "offline"]\n\n'
        '[[routing.payments]]\nproviders = ["acmepay", "offline"]\n'
    )
    plugins = load(config)
    assert plugins.problems == []
    info = next(p for p in plugins.info if p.name == "acmepay")
    assert info.distribution == "boxoffice-acmepay 1.2.3"
    router = Router(plugins.loaded.config, plugins.providers)
    assert [g.id for g in router.payment_gateways(region=None, currency="SEK")] == [
        "acmepay",
        "offline",
    ]
    # AcmePay does not take EUR: routing skips it.
    assert [g.id for g in router.payment_gateways(region=None, currency="EUR")] == ["offline"]


def test_the_cli_lists_a_pip_installed_plugin(acmepay_site: Path, tmp_path: Path) -> None:
    (tmp_path / "plugins.toml").write_text('[providers.acmepay]\nmerchant = "m-1"\n')
    env = {
        "PYTHONPATH": str(acmepay_site),
        "PATH": str(Path(sys.executable).parent),
        "BOXOFFICE_DATA_DIR": str(tmp_path / "data"),
    }
    listed = subprocess.run(
        [sys.executable, "-m", "boxoffice", "plugins", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "acmepay  [enabled]  from boxoffice-acmepay 1.2.3  (boxoffice_acmepay)" in listed.stdout
    assert "providers: payment:acmepay" in listed.stdout
    checked = subprocess.run(
        [sys.executable, "-m", "boxoffice", "plugins", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "payment      acmepay, offline" in checked.stdout
