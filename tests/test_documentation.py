"""The README documents every setting, with its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"`PUSHGATE_{name.upper()}`" in README, (
        f"README.md does not document PUSHGATE_{name.upper()}; add it to the "
        "settings table with its default."
    )
