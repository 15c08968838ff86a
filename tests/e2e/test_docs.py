"""Every long option the binary's --help lists is documented: in the
README's flag tables and in the man page (when it was built).  A flag added
to main.c without its documentation fails here."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def body(ctx):
    out = subprocess.run([ctx.crawler, "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    opts = sorted(set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9][a-z0-9.-]*)", out, re.M)))
    h.check(len(opts) > 20, "found only %d options in --help:\n%s" % (len(opts), out))
    with open(os.path.join(TOP, "README.md")) as f:
        readme = f.read()
    table = set(re.findall(r"^\| `(?:-\w`, `)?(--[a-z0-9][a-z0-9.-]*)", readme, re.M))
    missing = [o for o in opts if o not in table]
    h.check(not missing, "in --help but not in a README flag table: %s" % " ".join(missing))
    man = os.environ.get("CRAWLER_MAN")
    if man and os.path.exists(man):
        with open(man) as f:
            text = re.sub(r"\\f[BIRP]", "", f.read()).replace("\\-", "-")
        missing = [o for o in opts if o not in text]
        h.check(not missing, "in --help but not in the man page: %s" % " ".join(missing))
        h.info("%d options, all in the README and the man page" % len(opts))
    else:
        h.info("%d options, all in the README (no man page built)" % len(opts))


h.run_test(body)
