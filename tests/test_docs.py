"""The docs site: it builds strictly, its reference covers the API, its code runs.

The Quickstart and every guide are executed block by block (one namespace per page, as
a reader would paste them), so the pages cannot drift from the library. A ``python``
block is skipped only when the line before its fence is ``<!-- docs-test: skip -->``;
shell commands live in ``bash`` blocks, which are never run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
SKIP_MARK = "<!-- docs-test: skip -->"
# Languages a page may tag its blocks with: python blocks run, the others never do.
KNOWN_LANGUAGES = {"python", "py", "pycon", "bash", "console", "text", "json", "yaml", "toml"}


def _public_modules() -> tuple[str, ...]:
    """``attnguide`` and every module under it whose dotted path has no private part."""
    import attnguide

    found = pkgutil.walk_packages(attnguide.__path__, "attnguide.")
    public = [m.name for m in found if not any(p.startswith("_") for p in m.name.split("."))]
    return ("attnguide", *sorted(public))


# The modules whose ``__all__`` make up the public API.
PUBLIC_MODULES = _public_modules()

# Every page whose python a reader may paste, the repository's README included.
RUNNABLE_PAGES = sorted(
    str(p.relative_to(ROOT))
    for p in [
        ROOT / "README.md",
        DOCS / "index.md",
        DOCS / "quickstart.md",
        *(DOCS / "guides").glob("*.md"),
    ]
)


@dataclass(frozen=True)
class CodeBlock:
    language: str
    code: str
    line: int  # 1-based line of the first code line in the page
    skip: bool


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def code_blocks(text: str) -> list[CodeBlock]:
    """Fenced code blocks of a markdown page, including those nested in tabs or notes."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip()
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        previous = lines[i - 1].strip() if i > 0 else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if (
                line.strip().startswith(fence[0] * len(fence))
                and line.strip().strip(fence[0]) == ""
                and len(line) - len(line.lstrip()) <= len(indent)
            ):
                break
            body.append(line)
            j += 1
        else:
            raise AssertionError(f"unclosed code fence opened on line {i + 1}")
        code = textwrap.dedent("\n".join(body))
        blocks.append(CodeBlock(language, code, i + 2, previous == SKIP_MARK))
        i = j + 1
    return blocks


def test_code_block_parser() -> None:
    page = textwrap.dedent(
        """\
        text
        ```python
        a = 1
        ```
        <!-- docs-test: skip -->
        ```python
        raise SystemExit
        ```
        === "Tab"

            ```python title="x.py"
            b = 2
            ```
        ```bash
        ls
        ```
        """
    )
    blocks = code_blocks(page)
    assert [(b.language, b.code, b.line, b.skip) for b in blocks] == [
        ("python", "a = 1", 3, False),
        ("python", "raise SystemExit", 7, True),
        ("python", "b = 2", 12, False),
        ("bash", "ls", 15, False),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def one_thread():
    """Runs the pages' tiny models on one thread: on a busy two-core machine, torch's
    threads wait on one another and a few training steps take ten times longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_code_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    every_block = code_blocks(text)
    unknown = [b.line for b in every_block if b.language not in KNOWN_LANGUAGES]
    assert not unknown, f"{page}: code blocks on lines {unknown} need a language tag"
    blocks = [b for b in every_block if b.language in ("python", "py", "pycon")]
    if not blocks:
        assert page != "docs/quickstart.md", "the Quickstart shows no python code"
        pytest.skip(f"{page} has only shell commands")
    # Files a page writes land in a scratch folder; torch.distributed finds the
    # environment torchrun would give one process on this machine.
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    for name, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {"__name__": "__main__"}
    ran = 0
    for block in blocks:
        if block.skip:
            continue
        assert block.language == "python", f"{page}:{block.line}: use ```python for code"
        # Padding puts tracebacks on the page's own line numbers.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(ROOT / page), "exec"), namespace)
        ran += 1
    assert ran, f"{page}: every python block is skipped"
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        pytest.fail(f"{page} leaves a process group initialised")


def _documented_paths() -> set[str]:
    paths = set()
    for page in REFERENCE.glob("*.md"):
        for line in page.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^:::\s+([\w.]+)\s*$", line)
            if match:
                paths.add(match[1])
    return paths


def _public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__"
    return [n for n in names if not n.startswith("__")]


def _is_module(module_name: str, name: str) -> bool:
    return isinstance(getattr(importlib.import_module(module_name), name), type(os))


def _accepted_paths(module_name: str, name: str) -> set[str]:
    """Where a public name may be documented: any public module that exports the same
    object under that name (``attnguide.ops.blend_tv`` for ``attnguide.ops.blend_tv.
    blend_tv``), or where it is defined.

    The definition's path is needed where a function shares its name with the module
    that defines it (``attnguide.ops.blend.blend``): Griffe resolves
    ``attnguide.ops.blend`` to the module, not to the function re-exported under it.
    """
    obj = getattr(importlib.import_module(module_name), name)
    paths = {
        f"{other}.{name}"
        for other in PUBLIC_MODULES
        if name in _public_names(other) and getattr(importlib.import_module(other), name) is obj
    }
    defined_in, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(defined_in, str) and isinstance(qualname, str):
        paths.add(f"{defined_in}.{qualname}")
    return paths


# What a code block shows without scrolling sideways in a 1280-pixel browser window
# (measured in Chromium with the site's theme): 80 characters in a page's text column,
# 75 inside an API reference entry, which is indented.
PAGE_CODE_WIDTH = 80
DOCSTRING_CODE_WIDTH = 75


def _too_wide(lines: list[str], width: int, where: str) -> list[str]:
    return [
        f"{where}+{i}: {len(line)} > {width}: {line}"
        for i, line in enumerate(lines)
        if len(line) > width
    ]


def test_page_code_fits_the_text_column() -> None:
    pages = sorted(DOCS.rglob("*.md"))
    assert DOCS / "includes" / "home-figure.md" in pages
    wide = []
    for page in pages:
        for block in code_blocks(page.read_text(encoding="utf-8")):
            where = f"{page.relative_to(ROOT)}:{block.line}"
            wide += _too_wide(block.code.splitlines(), PAGE_CODE_WIDTH, where)
    assert not wide, "code lines the docs would cut off:\n" + "\n".join(wide)


def test_docstring_examples_fit_the_reference_column() -> None:
    import doctest

    import attnguide

    finder = doctest.DocTestFinder(recurse=True)
    wide = []
    # Every module, private ones too: attnguide.losses and attnguide.metrics define their
    # public names (and so their examples) in private modules.
    names = [m.name for m in pkgutil.walk_packages(attnguide.__path__, "attnguide.")]
    assert "attnguide.losses._adversarial" in names
    for name in names:
        for test in finder.find(importlib.import_module(name)):
            for example in test.examples:
                source = example.source.splitlines()
                shown = [(">>> " if k == 0 else "... ") + line for k, line in enumerate(source)]
                shown += example.want.splitlines()
                wide += _too_wide(
                    shown, DOCSTRING_CODE_WIDTH, f"{test.name}, line {example.lineno}"
                )
    assert not wide, "docstring examples the reference would cut off:\n" + "\n".join(wide)


def test_public_modules_are_found() -> None:
    # Guards the discovery itself: an empty walk would make the coverage tests vacuous.
    for expected in ("attnguide.ops", "attnguide.surgery", "attnguide.data.synthetic_faces"):
        assert expected in PUBLIC_MODULES
    assert not [m for m in PUBLIC_MODULES if "._" in m]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_reference_covers_every_public_name(module_name: str) -> None:
    documented = _documented_paths()
    missing = []
    for name in _public_names(module_name):
        if _is_module(module_name, name):  # a public submodule: covered on its own
            assert f"{module_name}.{name}" in PUBLIC_MODULES
        elif not _accepted_paths(module_name, name) & documented:
            missing.append(f"::: {module_name}.{name}")
    assert not missing, f"API reference lacks: {missing}"


def _owners(module_name: str, name: str) -> set[str]:
    return {path.rsplit(".", 1)[0] for path in _accepted_paths(module_name, name)}


@pytest.mark.parametrize("module_name", [m for m in PUBLIC_MODULES if m.count(".") == 1])
def test_each_public_module_has_a_reference_page(module_name: str) -> None:
    # A module whose every name the package re-exports (the adapters' heads and
    # discriminators) is documented on the package's own page instead.
    exported = {n for n in _public_names(module_name) if "attnguide" in _owners(module_name, n)}
    if exported == set(_public_names(module_name)):
        return
    page = REFERENCE / f"{module_name.split('.')[1]}.md"
    assert page.is_file(), f"{module_name} needs a reference page {page.relative_to(ROOT)}"
    title = page.read_text(encoding="utf-8").splitlines()[0]
    assert title == f"# {module_name}", f"{page.name} is titled {title!r}"


def test_reference_documents_only_public_names() -> None:
    public = {
        path
        for m in PUBLIC_MODULES
        for n in _public_names(m)
        if not _is_module(m, n)
        for path in _accepted_paths(m, n)
    }
    stray = sorted(_documented_paths() - public)
    assert not stray, f"reference pages document names outside any __all__: {stray}"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_tables_match_the_committed_results() -> None:
    script = _load_script("gen_benchmark_table")
    committed = (DOCS / "includes" / "blend-tv-benchmark.md").read_text(encoding="utf-8")
    assert committed == script.render(), (
        "docs/includes/blend-tv-benchmark.md is stale: run python docs/gen_benchmark_table.py"
    )


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "NO_MKDOCS_2_WARNING": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-6000:]}"
    return site


def test_site_builds_strictly(built_site: Path) -> None:
    assert (built_site / "index.html").is_file()
    assert (built_site / "search" / "search_index.json").is_file()


def test_site_has_an_anchor_for_every_public_name(built_site: Path) -> None:
    html = "\n".join(
        p.read_text(encoding="utf-8") for p in (built_site / "reference").rglob("*.html")
    )
    missing = [
        f"{m}.{n}"
        for m in PUBLIC_MODULES
        for n in _public_names(m)
        if not _is_module(m, n)
        and not any(f'id="{path}"' in html for path in _accepted_paths(m, n))
    ]
    assert not missing, f"rendered reference lacks anchors for {missing}"


# The pictures scripts draw for the home page: a trained run's translations, or,
# before one exists, the synthetic faces task itself.
HOME_PICTURES = {
    "home.png": "python docs/gen_home_figure.py --run RUN_DIR",
    "faces_preview.png": "python -m attnguide.data.synthetic_faces --preview PATH",
}


def _home_picture() -> str:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    included = re.findall(r'^--8<-- "([^"]+)"$', index, re.MULTILINE)
    text = "\n".join([index, *((ROOT / path).read_text(encoding="utf-8") for path in included)])
    pictures = re.findall(r"\]\(images/([\w.-]+)\)", text)
    assert len(pictures) == 1, f"the home page shows {pictures}, not one picture"
    return pictures[0]


def test_home_page_shows_the_generated_picture(built_site: Path) -> None:
    name = _home_picture()
    assert name in HOME_PICTURES, f"images/{name} is not drawn by a script: {HOME_PICTURES}"
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert f'src="images/{name}"' in index
    assert (built_site / "images" / name).stat().st_size > 1000


def _train_tiny(faces: Path, out: Path, *flags: str) -> Path:
    """One step of the AGGAN example at tiny sizes into ``out``, in a subprocess."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    tiny = "--size 32 --ngf 4 --n-blocks 1 --ndf 4 --threads 1 --n-samples 1 --max-steps 1"
    train = [sys.executable, str(ROOT / "examples" / "aggan" / "train.py"), *tiny.split()]
    argv = [*train, "--no-evaluate", "--data-root", str(faces), "--out", str(out), *flags]
    subprocess.run(argv, env=env, capture_output=True, check=True, timeout=120)
    return out


@pytest.mark.usefixtures("one_thread")
def test_home_figure_script_draws_a_run(tmp_path: Path) -> None:
    from PIL import Image

    from attnguide.data import make_synthetic_faces

    faces = make_synthetic_faces(tmp_path / "faces", n_train=2, n_test=2, size=32)
    run = _train_tiny(faces, tmp_path / "run")
    script = _load_script("gen_home_figure")
    out = tmp_path / "home.png"
    assert script.main(["--run", str(run), "--out", str(out), "--rows", "2", "--scale", "2"]) == 0
    with Image.open(out) as picture:
        width, height = picture.size
    # Three 64-pixel columns with two gaps; two rows under the labels.
    assert width == 3 * 64 + 2 * 4
    assert height > 2 * 64
    assert script.main(["--run", str(tmp_path / "absent"), "--out", str(out)]) == 2


@pytest.mark.usefixtures("one_thread")
def test_upgrade_figure_script_draws_a_cyclegan_and_its_upgrade(tmp_path: Path) -> None:
    from PIL import Image

    from attnguide.data import make_synthetic_faces

    faces = make_synthetic_faces(tmp_path / "faces", n_train=2, n_test=2, size=32)
    cyclegan = _train_tiny(faces, tmp_path / "cyclegan", "--baseline", "cyclegan")
    upgraded = _train_tiny(
        faces, tmp_path / "upgraded", "--init-from", str(cyclegan), "--d-head", "patch"
    )
    script = _load_script("gen_upgrade_figure")
    out = tmp_path / "upgrade.png"
    argv = ["--cyclegan", str(cyclegan), "--upgraded", str(upgraded), "--out", str(out)]
    assert script.main([*argv, "--rows", "2", "--scale", "2"]) == 0
    with Image.open(out) as picture:
        assert picture.size[0] == 4 * 64 + 3 * 4
    # The two runs swapped: the "CycleGAN" has masks, the "upgrade" has none.
    swapped = ["--cyclegan", str(upgraded), "--upgraded", str(cyclegan), "--out", str(out)]
    assert script.main(swapped) == 2


def test_site_needs_no_network(built_site: Path) -> None:
    # Pages may link out, but nothing a page loads by itself comes from elsewhere.
    loaded = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:)?//', re.IGNORECASE)
    offenders = [
        str(p.relative_to(built_site))
        for p in built_site.rglob("*.html")
        if loaded.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"pages load remote resources: {offenders}"


def test_train_step_tables_match_the_committed_benchmark_json() -> None:
    script = _load_script("gen_train_step_table")
    assert script.OUTPUT.read_text(encoding="utf-8") == script.render(), (
        "docs/includes/train-step-benchmark.md is stale: run python docs/gen_train_step_table.py"
    )
