"""The house's import rules, read from the source (every import statement, function-level too):
no import circles inside src/nnstudy; a study's figures and report never import their study (the
descriptor hands them what they need) nor any other study; the report's renderers read only the
document model."""

import ast
from pathlib import Path

import nnstudy

ROOT = Path(nnstudy.__file__).parent


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known) -> set[str]:
    """The nnstudy modules `name` imports, each resolved to the deepest module that exists.
    A module's own parent packages are left out: Python imports them first in any case, and a
    package that imports its children would otherwise form a circle with each of them."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package that holds `name`
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(pkg[:len(pkg) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(m, p, mods) for m, p in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walker_finds_circles_and_function_level_imports(tmp_path):
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from nnstudy.studies.spiral.figures import draw_spiral\n")
    known = {"nnstudy.studies", "nnstudy.studies.spiral"}
    assert imports("nnstudy.x", src, known) == {"nnstudy.studies.spiral"}


def test_no_import_circles():
    found = circles(graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_a_studys_figures_and_report_import_no_study():
    edges = graph()
    studies = {m for m in edges if m.count(".") == 2 and m.startswith("nnstudy.studies.") and
               modules()[m].name == "__init__.py"}
    for study in studies:
        for part in ("figures", "report"):
            bad = {t for t in edges.get(f"{study}.{part}", ()) if t in studies or t.rpartition(".")[0] in studies}
            assert not bad, f"{study}.{part} imports {sorted(bad)}: pass what it needs from the descriptor instead"
        own = {t for t in edges[study] if (t in studies or t.rpartition(".")[0] in studies) and not t.startswith(study)}
        assert not own, f"{study} imports another study {sorted(own)}: move what they share to studies/shared.py"


def test_report_renderers_read_only_the_document_model():
    edges = graph()
    for renderer in ("nnstudy.report.html", "nnstudy.report.markdown"):
        inside = {t for t in edges[renderer] if t.startswith("nnstudy.report")}
        assert inside == {"nnstudy.report.model"}, renderer
        assert not {t for t in edges[renderer] if t.startswith(("nnstudy.studies", "nnstudy.store"))}, renderer
