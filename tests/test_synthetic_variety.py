"""scripts/synthetic_variety.py: bad input is one line and exit status 2, before any work."""
import subprocess
import sys

from tests.conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "scripts/synthetic_variety.py", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_missing_run_dir_and_too_few_per_class_are_one_line_errors(tmp_path):
    for args, expected in ((["--per-class", "1", str(tmp_path)], "--per-class: 1 is out of range"),
                           ([str(tmp_path / "none")], "no trained cgan in")):
        result = run(*args)
        assert result.returncode == 2
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
