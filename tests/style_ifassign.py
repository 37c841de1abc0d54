#!/usr/bin/env python3
"""tests/style_ifassign.py FILE...: report every assignment inside an if
condition (the written style forbids them), reading whole conditions, so
nested parentheses and conditions wrapped over several lines are seen.
Comments, strings and character constants are blanked first.  Exit 1 when
any is found."""
import re, sys
bad = 0
for path in sys.argv[1:]:
    src = open(path).read()
    # blank out comments, strings and character constants, keeping newlines
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    src = re.sub(r"/\*.*?\*/|//[^\n]*|\"(\\.|[^\"\\\n])*\"|'(\\.|[^'\\\n])*'", blank, src, flags=re.S)
    for m in re.finditer(r"\bif\s*\(", src):
        i = m.end()
        depth = 1
        while i < len(src) and depth:
            if src[i] == "(":
                depth += 1
            elif src[i] == ")":
                depth -= 1
            i += 1
        cond = src[m.end():i - 1]
        if re.search(r"(?<![=!<>+\-*/%&|^])=(?!=)", cond):
            line = src.count("\n", 0, m.start()) + 1
            print("style: %s:%d: assignment in an if condition" % (path, line))
            bad += 1
sys.exit(1 if bad else 0)
