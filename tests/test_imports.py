"""Heavy libraries stay out of the query path (DESIGN.md: a query-only user starts fast)."""
import subprocess
import sys


def test_query_modules_do_not_import_torch_matplotlib_or_ray():
    code = ("import sys, natsbench, natsbench.spaces, natsbench.store.reader, natsbench.api.bench, "
            "natsbench.api.compat, natsbench.cli, search_algorithms.runner; "
            "natsbench.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
