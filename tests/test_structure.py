"""Layering (docs/ARCHITECTURE.md): entry points are never imported, and the import graph has no cycle.

Read with `ast`, not imported, so the test is fast and sees function-local imports too. An entry
point is a module with an `if __name__ == "__main__":` guard; every other module is a library.
"""
import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("bagan", "began", "cgan_infogan", "dagan", "debias", "common")
SCRIPTS = ("scripts",)     # run as files, never imported: importers only

# (importer, imported entry point) pairs that exist today.
ALLOWED = set()      # no exceptions: bagan's moved too


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources():
    """{module name: (path, parsed tree)} of every .py file of the packages and scripts/."""
    found = {}
    for folder in PACKAGES + SCRIPTS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[module_name(path)] = (path, ast.parse(path.read_text(), str(path)))
    return found


def is_entry_point(tree):
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            test = node.test
            if (isinstance(test.left, ast.Name) and test.left.id == "__name__"
                    and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
                    and test.comparators[0].value == "__main__"):
                return True
    return False


def imports(name, path, tree, known):
    """Modules of `known` that module `name` imports anywhere in its body (function-local too).
    `from a import b` counts as importing a.b when that is a module, else as importing a."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:       # relative: from the importing module's package upwards
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph():
    found = sources()
    edges = {name: imports(name, path, tree, found) for name, (path, tree) in found.items()}
    entry_points = {name for name, (_, tree) in found.items() if is_entry_point(tree)}
    return edges, entry_points


def test_the_scan_sees_the_suite():
    edges, entry_points = graph()
    assert {"began.train", "cgan_infogan.generate", "debias.pipeline", "common.summary"} <= entry_points
    assert "began.sampling" in edges["began.generate"] and "common.cli" in edges["began.generate"]
    assert "common.plots" in edges["common.training"]


def test_no_module_imports_an_entry_point():
    edges, entry_points = graph()
    bad = sorted((importer, imported) for importer, targets in edges.items()
                 for imported in targets & entry_points if (importer, imported) not in ALLOWED)
    assert not bad, ("entry points are imported (move what they share into a library module): "
                     + ", ".join(f"{a} -> {b}" for a, b in bad))


def test_the_import_graph_has_no_cycle():
    edges, _ = graph()
    state, stack, cycles = {}, [], []

    def visit(node):         # depth-first; an edge back to a module on the stack closes a cycle
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"
    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_function_local_and_relative_imports_are_seen():
    tree = ast.parse("from . import gan\n\ndef f():\n    from began import train, IMAGE_SIZES\n    import common.cli\n")
    known = {"began", "began.gan", "began.train", "common.cli"}
    assert imports("began.sampling", ROOT / "began" / "sampling.py", tree, known) == known


TENSORFLOW = ("keras", "tensorflow")


def first_heavy_import(tree):
    """The top-level module of an entry point's first import of the suite or of TensorFlow/Keras."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            root = name.split(".")[0]
            if root in PACKAGES + TENSORFLOW:
                return root
    return None


def test_entry_points_import_common_before_tensorflow():
    """common/__init__.py sets TF_CPP_MIN_LOG_LEVEL and silences TensorFlow's start-up lines: it must be
    imported before anything that imports TensorFlow (then no entry point needs code before its imports)."""
    found = sources()
    late = sorted(name for name, (_, tree) in found.items()
                  if is_entry_point(tree) and first_heavy_import(tree) not in (None, "common"))
    assert not late, "import common before the packages and TensorFlow in: " + ", ".join(late)


def test_no_import_order_workarounds():
    """The editable install puts the suite on sys.path and `import common` quiets TensorFlow: no
    sys.path edits and no code before imports (E402) in the packages and scripts."""
    found = [f"{path.relative_to(ROOT)}:{i}" for path, _ in sources().values()
             for i, line in enumerate(path.read_text().splitlines(), 1)
             if "noqa: E402" in line or "sys.path" in line]
    assert not found, "import-order workarounds in: " + ", ".join(found)


def test_shell_scripts_parse():
    """`bash -n` on every shell script a user runs: a quoting slip otherwise shows only when run."""
    scripts = [ROOT / "run_all.sh", ROOT / ".ci" / "run", *sorted((ROOT / "scripts").glob("*.sh"))]
    for script in scripts:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script.name}: {done.stderr.strip()}"
