"""Every file in tests/config/bad/ is refused with exactly the messages its `# expect:` lines list.

The loader is given the bare file name as its path, so the expected messages read
`NN-name.yaml:LINE:COL: where: what`, in document order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ipvsctl.config import loads
from ipvsctl.errors import ConfigError

BAD = Path(__file__).parent / "bad"
FILES = sorted(BAD.glob("*.yaml"))
PREFIX = "# expect: "


def expected(text: str) -> list[str]:
    return [line[len(PREFIX):] for line in text.splitlines() if line.startswith(PREFIX)]


def test_corpus_is_large_and_every_file_expects_something() -> None:
    assert len(FILES) >= 30
    for path in FILES:
        assert expected(path.read_text()), f"{path.name} has no '# expect:' line"


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same messages whether or not PyYAML was built with libyaml."""
    if request.param == "pure-python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.usefixtures("parser")
def test_bad_file_is_refused_with_exact_messages(path: Path) -> None:
    text = path.read_text()
    with pytest.raises(ConfigError) as caught:
        loads(text, path=path.name)
    assert caught.value.problems == expected(text)
    assert caught.value.lines() == expected(text)
