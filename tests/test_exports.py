"""The public façade, the docstrings and the documentation agree."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import types
from pathlib import Path

import aioipc
import aioipc.testing

DOCS = Path(__file__).resolve().parent.parent / "docs"
PUBLIC_MODULES = {"testing"}


def test_all_is_sorted_and_unique() -> None:
    assert list(aioipc.__all__) == sorted(set(aioipc.__all__))


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(aioipc).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(aioipc.__all__) - {"__version__"}


def test_every_public_name_comes_from_a_private_module_or_is_a_public_submodule() -> None:
    for name in aioipc.__all__:
        value = getattr(aioipc, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("aioipc"):
            assert module.split(".")[1].startswith("_"), f"{name} lives in {module}"


def _public_callables() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for name in aioipc.__all__:
        value = getattr(aioipc, name)
        if callable(value):
            found.append((name, value))
    for name in aioipc.testing.__all__:
        value = getattr(aioipc.testing, name)
        if inspect.isfunction(value):
            found.append((f"testing.{name}", value))
    return found


def test_every_public_function_and_class_has_a_real_docstring() -> None:
    missing = [
        name for name, value in _public_callables() if len(inspect.getdoc(value) or "") < 20
    ]
    assert not missing, f"public names without a useful docstring: {missing}"


def test_public_methods_of_public_classes_have_docstrings() -> None:
    missing = []
    for name in aioipc.__all__:
        value = getattr(aioipc, name)
        if not inspect.isclass(value) or issubclass(value, BaseException):
            continue
        for attr, member in vars(value).items():
            if attr.startswith("_") or not callable(member):
                continue
            if not (inspect.getdoc(member) or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing, f"public methods without a docstring: {missing}"


def test_every_public_name_is_documented() -> None:
    text = "\n".join(page.read_text() for page in DOCS.glob("*.md"))
    documented = set(re.findall(r"`(?:aioipc\.)?([A-Za-z_][A-Za-z0-9_]*)", text))
    undocumented = [
        name for name in aioipc.__all__ if name != "__version__" and name not in documented
    ]
    assert not undocumented, f"public names with no section in docs/: {undocumented}"


def test_the_api_page_lists_every_public_name() -> None:
    api = (DOCS / "api.md").read_text()
    missing = [name for name in aioipc.__all__ if f"`{name}`" not in api]
    assert not missing, f"docs/api.md does not list: {missing}"


def test_version_is_a_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", aioipc.__version__)


# aioipc.sysv, a public submodule with its own __all__


def test_sysv_all_is_sorted_unique_and_exactly_the_public_names() -> None:
    import aioipc.sysv

    assert list(aioipc.sysv.__all__) == sorted(set(aioipc.sysv.__all__))
    public = {
        name
        for name, value in vars(aioipc.sysv).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(aioipc.sysv.__all__)
    for name in aioipc.sysv.__all__:
        module = getattr(getattr(aioipc.sysv, name), "__module__", "aioipc._")
        if module.startswith("aioipc"):
            assert module.split(".")[1].startswith("_"), f"sysv.{name} lives in {module}"


def test_sysv_public_names_and_methods_have_docstrings() -> None:
    import aioipc.sysv

    missing = []
    for name in aioipc.sysv.__all__:
        value = getattr(aioipc.sysv, name)
        if not callable(value):
            continue
        if len(inspect.getdoc(value) or "") < 20:
            missing.append(name)
        if inspect.isclass(value) and not issubclass(value, BaseException):
            for attr, member in vars(value).items():
                if attr.startswith("_"):
                    continue
                doc = inspect.getdoc(member.fget if isinstance(member, property) else member)
                if (callable(member) or isinstance(member, property)) and not doc:
                    missing.append(f"{name}.{attr}")
    assert not missing, f"aioipc.sysv names without a useful docstring: {missing}"


def test_sysv_names_are_documented_in_sysv_md_and_api_md() -> None:
    import aioipc.sysv

    sysv_page = (DOCS / "sysv.md").read_text()
    api = (DOCS / "api.md").read_text()
    missing = [
        name
        for name in aioipc.sysv.__all__
        if f"`{name}`" not in sysv_page and f"sysv.{name}" not in sysv_page
    ]
    assert not missing, f"docs/sysv.md does not document: {missing}"
    missing = [name for name in aioipc.sysv.__all__ if f"`sysv.{name}`" not in api]
    assert not missing, f"docs/api.md does not list: {missing}"


# aioipc.systemd, a public submodule with its own __all__


def test_systemd_all_is_sorted_unique_and_exactly_the_public_names() -> None:
    import aioipc.systemd

    assert list(aioipc.systemd.__all__) == sorted(set(aioipc.systemd.__all__))
    public = {
        name
        for name, value in vars(aioipc.systemd).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(aioipc.systemd.__all__)
    for name in aioipc.systemd.__all__:
        module = getattr(getattr(aioipc.systemd, name), "__module__", "aioipc._")
        if module.startswith("aioipc"):
            assert module.split(".")[1].startswith("_"), f"systemd.{name} lives in {module}"


def test_systemd_public_names_have_docstrings() -> None:
    import aioipc.systemd

    missing = [
        name
        for name in aioipc.systemd.__all__
        if callable(getattr(aioipc.systemd, name))
        and len(inspect.getdoc(getattr(aioipc.systemd, name)) or "") < 20
    ]
    assert not missing, f"aioipc.systemd names without a useful docstring: {missing}"


def test_systemd_names_are_documented_in_systemd_md_and_api_md() -> None:
    import aioipc.systemd

    page = (DOCS / "systemd.md").read_text()
    api = (DOCS / "api.md").read_text()
    missing = [
        name
        for name in aioipc.systemd.__all__
        if f"`{name}`" not in page and f"systemd.{name}" not in page
    ]
    assert not missing, f"docs/systemd.md does not document: {missing}"
    missing = [name for name in aioipc.systemd.__all__ if f"`systemd.{name}`" not in api]
    assert not missing, f"docs/api.md does not list: {missing}"


# Public submodules reachable after a plain `import aioipc`


def test_public_submodules_are_reachable_after_a_plain_import_and_loaded_lazily() -> None:
    # A fresh interpreter: this one has imported the submodules already.
    code = """
import sys
import aioipc
lazy = ("aioipc.systemd", "aioipc.sysv", "aioipc.testing")
print([name for name in lazy if name in sys.modules])
print(callable(aioipc.systemd.notify), callable(aioipc.systemd.watchdog))
print(aioipc.sysv.SharedMemory.__name__, aioipc.testing.__name__)
print(all(sys.modules[name] is eval(name) for name in lazy))
print({"systemd", "sysv", "testing"} <= set(dir(aioipc)))
try:
    aioipc.no_such_name
except AttributeError as exc:
    print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[]",
        "True True",
        "SharedMemory aioipc.testing",
        "True",
        "True",
        "module 'aioipc' has no attribute 'no_such_name'",
    ]
