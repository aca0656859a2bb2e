# gdb script for hack/hot-symbols.sh: a one-shot breakpoint on every
# function of the binary, then the program runs; each function's name is
# appended to $HOT_OUT the first time it runs. Only the command's own
# process is followed (forked children are detached), since its peak RSS
# is what the list is for; the read-only re-exec is followed through exec.
#   HOT_SYMS=FILE (nm lines: ADDR TYPE NAME) HOT_OUT=FILE gdb -batch -nx -x hot-symbols.py --args BIN ARGS...
import os

import gdb

syms = []
with open(os.environ["HOT_SYMS"]) as f:
    for line in f:
        addr, _, name = line.split()[:3]
        syms.append((int(addr, 16), name))
out = open(os.environ["HOT_OUT"], "a")


class OneShot(gdb.Breakpoint):
    def __init__(self, spec, name):
        super().__init__(spec, internal=True)
        self.name = name
        self.seen = False

    def stop(self):
        if not self.seen:
            self.seen = True
            out.write(self.name + "\n")
            # A breakpoint must not be changed from its own stop(); the
            # event loop disables it once the program runs on.
            gdb.post_event(self.disable)
        return False

    def disable(self):
        if self.is_valid():
            self.enabled = False


for setting in ("pagination off", "confirm off", "follow-fork-mode parent",
                "detach-on-fork on", "follow-exec-mode same"):
    gdb.execute("set " + setting)
gdb.execute("starti", to_string=True)
# A static PIE: its load address is the entry point's runtime address less
# its address in the file (ASLR is off under gdb, so the re-exec loads the
# binary at the same place).
entry = next(a for a, n in syms if n == "_start")
base = int(gdb.parse_and_eval("(long)&_start")) - entry
for addr, name in syms:
    OneShot("*0x%x" % (base + addr), name)
gdb.execute("continue", to_string=True)
out.close()
