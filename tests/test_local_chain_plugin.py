"""The pytest plugin as a user's test suite meets it (run through pytester)."""

from __future__ import annotations

import pytest

from timecoin_core.testing.pytest_plugin import chain_options_from_marker


def test_marker_arguments() -> None:
    assert chain_options_from_marker((), {}) == {}
    assert chain_options_from_marker((4,), {}) == {"masternodes": 4}
    assert chain_options_from_marker((4,), {"auto_finality": False}) == {"masternodes": 4, "auto_finality": False}
    assert chain_options_from_marker((), {"masternodes": 2, "autojump": True}) == {"masternodes": 2, "autojump": True}
    with pytest.raises(pytest.UsageError, match="at most one positional"):
        chain_options_from_marker((4, False), {})
    with pytest.raises(pytest.UsageError, match=r"unknown option.*masternode\b"):
        chain_options_from_marker((), {"masternode": 4})
    with pytest.raises(pytest.UsageError, match="both"):
        chain_options_from_marker((4,), {"masternodes": 4})


def test_positional_and_keyword_markers_configure_the_chain(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.local_chain(4)
        def test_positional(local_chain):
            assert len(local_chain.nodes) == 4

        @pytest.mark.local_chain(3, auto_finality=False)
        def test_mixed(local_chain):
            assert len(local_chain.nodes) == 3 and not local_chain.auto_finality

        @pytest.mark.local_chain(masternodes=2, autojump=True)
        def test_keywords(local_chain):
            assert len(local_chain.nodes) == 2 and local_chain.autojump

        def test_default(local_chain, accounts):
            assert len(local_chain.nodes) == 1 and accounts[0].balance() > 0
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_bad_markers_are_errors_not_ignored(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.local_chain(masternode=4)
        def test_typo(local_chain):
            pass

        @pytest.mark.local_chain(4, False)
        def test_two_positional(local_chain):
            pass

        @pytest.mark.local_chain(0)
        def test_zero(local_chain):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*unknown option(s) masternode*", "*at most one positional*", "*masternodes: 0 is not in 1..255*"])


def test_shared_chains_are_isolated_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        from timecoin_core import coins

        def test_spend(isolated_module_chain):
            a, b = isolated_module_chain.accounts[:2]
            a.send(b, coins("5"))
            isolated_module_chain.produce_block()
            assert isolated_module_chain.height == 1

        def test_sees_nothing_of_it(isolated_module_chain, module_chain):
            assert isolated_module_chain is module_chain
            assert module_chain.height == 0
            assert module_chain.accounts[1].balance() == module_chain.accounts[0].balance()

        def test_session_chain(isolated_session_chain):
            isolated_session_chain.produce_block()
        """,
        test_two="""
        def test_session_chain_is_back_at_genesis(isolated_session_chain, session_chain):
            assert session_chain.height == 0
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_local_chain_options_configure_the_shared_chains(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def local_chain_options():
            return {"masternodes": 4}
        """
    )
    pytester.makepyfile(
        """
        def test_four(module_chain, session_chain):
            assert len(module_chain.nodes) == len(session_chain.nodes) == 4
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_every_test_module_example_in_the_docs_passes(pytester: pytest.Pytester) -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text()
    blocks = re.findall(r"```python\n# doc: no-run \(a test module, not a script\)\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    expected = 0
    for number, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_doc_{number}": block})
        expected += block.count("\ndef test_")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=expected)
