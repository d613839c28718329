"""GET /docs in a real browser: headless Chromium (Debian's, driven by
the pinned playwright-core, tests/integration/docs_page.mjs) loads the
page from orderd, which renders api/openapi.json with Redoc.

The page must load with no console error, no failed or 4xx/5xx request
and no request to another host (orderd often runs without Internet
access), and its sidebar must list every operation of the document.
ORDERD_DOCS_SCREENSHOT=path.png keeps a screenshot there (else it goes to
the daemon's folder, removed afterwards) for a person to look at.
"""

import json
import os
import subprocess

import contract
from harness import HERE, StackTestCase, main

SCRIPT = os.path.join(HERE, "docs_page.mjs")


class DocsPage(StackTestCase):
    def browse(self):
        shot = os.environ.get("ORDERD_DOCS_SCREENSHOT") or os.path.join(self.stack.daemon.dir, "docs.png")
        url = f"http://127.0.0.1:{self.stack.port}/docs"
        proc = subprocess.run(["node", SCRIPT, url, shot], capture_output=True, text=True, timeout=180)
        self.assertEqual(proc.returncode, 0, f"docs_page.mjs failed:\n{proc.stdout}\n{proc.stderr}")
        self.assertTrue(os.path.getsize(shot) > 10000, "the screenshot is empty")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def test_page_loads_cleanly_and_lists_every_operation(self):
        report = self.browse()
        origin = f"http://127.0.0.1:{self.stack.port}/"
        self.assertEqual(report["status"], 200)
        self.assertEqual(report["contentType"], "text/html; charset=utf-8")
        self.assertEqual(report["title"], "orderd API reference")
        errors = [m for m in report["console"] if m["type"] in ("error", "warning", "assert")]
        self.assertEqual(errors, [], "the page logged errors or warnings")
        self.assertEqual(report["pageErrors"], [])
        self.assertEqual(report["failedRequests"], [])
        self.assertEqual(report["badResponses"], [])
        # Redoc's search runs in a worker made from a blob: URL of this origin
        foreign = [u for u in report["requests"]
                   if not u.startswith((origin, "blob:" + origin, "data:"))]
        self.assertEqual(foreign, [], "the page asked another host")
        self.assertIn(origin + "openapi.json", report["requests"])
        self.assertIn(origin + "docs/redoc.standalone.js", report["requests"])

        doc = contract.contract().raw
        operations = [(op["operationId"], op["summary"]) for item in doc["paths"].values()
                      for method, op in item.items() if isinstance(op, dict) and "operationId" in op]
        self.assertEqual(len(operations), 11)
        rendered = {s.rsplit("operation/", 1)[1] for s in report["sections"]}
        # the sidebar lists each operation, under its tag, as its method
        # badge then its summary; the first tag is open
        first_tag = doc["tags"][0]["name"]
        for op_id, summary in operations:
            self.assertIn(op_id, rendered, f"Redoc rendered no section for {op_id}")
            self.assertTrue(any(label.endswith(summary) for label in report["menu"]),
                            f"the sidebar does not list {summary!r}: {report['menu']}")
        for item in doc["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and op.get("tags") == [first_tag]:
                    self.assertTrue(any(label.endswith(op["summary"]) for label in report["visibleMenu"]),
                                    f"{op['summary']!r} is not shown under the open tag")


if __name__ == "__main__":
    main()
