#!/usr/bin/python3
"""The README is the front door: at most 150 lines, and every repository path it names
exists. And no tracked file cites a docs/*.md that is not there. Run by the CTest test
`docs`; prints each problem and exits 1."""
import re
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
problems = []
readme = (root / "README.md").read_text()
lines = readme.count("\n")
if lines > 150:
    problems.append(f"README.md: {lines} lines, expected at most 150")

top = {p.name for p in root.iterdir() if p.name not in ("build", ".git")}
path_re = re.compile(r"(?<![\w./-])((?:%s)/[\w./<>*{},-]*)" % "|".join(re.escape(t) for t in sorted(top)))
for m in path_re.finditer(readme):
    p = m.group(1).rstrip(".,:;)")
    if any(c in p for c in "<>*{}"):  # a pattern such as strategies/<name>.cpp
        p = re.split(r"[<>*{}]", p)[0].rsplit("/", 1)[0]
    if p and not (root / p).exists() and not (root / p.rstrip("/")).exists():
        problems.append(f"README.md names {m.group(1)!r}, which does not exist")

tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
for f in tracked:
    if f.startswith("tests/topology/data/") or not (root / f).is_file():
        continue
    try:
        text = (root / f).read_text()
    except UnicodeDecodeError:
        continue
    for m in re.finditer(r"(?<![\w/.])docs/[\w-]+\.md", text):
        if not (root / m.group(0)).exists():
            problems.append(f"{f} cites {m.group(0)}, which does not exist")

for p in problems:
    print("check-docs:", p)
if problems:
    sys.exit(1)
print(f"check-docs: README {lines} lines, every path it names exists; every cited docs/*.md exists")
