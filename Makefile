# vzrun: build, test, install, demo. Tests and the demo run real containers
# and need root.

PREFIX ?= /usr/local
CARGO  ?= cargo
DEMO   ?= demo/busybox
# The release binary is linked statically (glibc's crt-static): measured
# here, each command starts ~0.8 ms sooner and peaks 1.4 MiB lower than the
# dynamic build. The target is explicit so that build scripts and proc
# macros stay dynamic.
HOST   := $(shell rustc -vV | sed -n 's/^host: //p')
BIN    := target/$(HOST)/release/vzrun
# The release binary is linked by rust-lld, which ships with the toolchain:
# it lays out the functions that the lifecycle commands run
# (hack/hot-symbols.txt, made by hack/hot-symbols.sh) first and together,
# so that far fewer pages of text are mapped, and it packs the relative
# relocations (RELR) that a static PIE applies to itself at each start.
LLD    := $(shell rustc --print sysroot)/lib/rustlib/$(HOST)/bin/gcc-ld
RELEASE_RUSTFLAGS := -C target-feature=+crt-static \
	-C link-arg=-fuse-ld=lld -C link-arg=-B$(LLD) \
	-C link-arg=-Wl,-z,pack-relative-relocs \
	-C link-arg=-Wl,--symbol-ordering-file=$(CURDIR)/hack/hot-symbols.txt \
	-C link-arg=-Wl,--no-warn-symbol-ordering

.PHONY: all build docs test e2e cri vm-test fuzz install deb package-test demo deps lint clean

all: build

build:
	RUSTFLAGS="$(RELEASE_RUSTFLAGS)" $(CARGO) build --release --target $(HOST)
	@echo $(BIN)

deps:
	hack/install-deps.sh

# The README's test command; .ci/run runs exactly this. The module graph
# check fails on an import cycle or an import up the floors of
# docs/architecture.md.
# Each stage has a bound (about three times its usual length) so that a
# hang fails the run with the stage's name instead of eating CI's budget.
test: deps
	hack/module-graph.py
	$(CARGO) build
	timeout -k 30 1200 $(CARGO) test -- --test-threads=2; rc=$$?; \
	  for d in /sys/fs/cgroup/*/vzrun-test; do [ -d "$$d" ] && rmdir "$$d"; done; exit $$rc
	timeout -k 30 900 hack/fuzz.sh smoke
	timeout -k 30 900 $(MAKE) package-test
	timeout -k 30 300 integration/compare-runc.sh target/debug/vzrun
	timeout -k 30 900 integration/e2e/run.sh /usr/sbin/runc
	timeout -k 30 900 integration/e2e/run.sh target/debug/vzrun
	timeout -k 30 900 integration/cri/run.sh /usr/sbin/runc
	timeout -k 30 600 integration/cri/run.sh target/debug/vzrun
	timeout -k 30 1800 hack/vm/lane.sh

# podman and containerd driving the runtime (runc first: it proves the
# suite).
e2e:
	$(CARGO) build
	integration/e2e/run.sh /usr/sbin/runc
	integration/e2e/run.sh target/debug/vzrun

# Every fuzz target for an hour, all at once (hack/fuzz.sh).
fuzz:
	hack/fuzz.sh run 3600

# Kubernetes' path: containerd's CRI plugin driven by our CRI client
# (runc first: it proves the lane).
cri:
	$(CARGO) build
	integration/cri/run.sh /usr/sbin/runc
	integration/cri/run.sh target/debug/vzrun

# The same integration tests in a cgroup v2 VM (QEMU, Debian's kernel).
vm-test:
	hack/vm/lane.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	hack/module-graph.py

# Man pages (section 8, one per command) and bash/zsh/fish completions,
# generated from the command line's definitions (examples/gen-docs.rs).
DOCS := target/docs
docs:
	rm -rf $(DOCS)
	$(CARGO) run --quiet --example gen-docs -- $(DOCS)
	gzip -9n $(DOCS)/man/*.8

# Where Debian's man, bash-completion, zsh and fish look.
install: build docs
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/vzrun
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(DOCS)/man/*.8.gz $(DESTDIR)$(PREFIX)/share/man/man8/
	install -D -m 0644 $(DOCS)/completions/vzrun.bash \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vzrun
	install -D -m 0644 $(DOCS)/completions/_vzrun \
	  $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_vzrun
	install -D -m 0644 $(DOCS)/completions/vzrun.fish \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/vzrun.fish

# A Debian package of the same files (cargo-deb, metadata in Cargo.toml),
# in target/debian/.
deb: build docs
	command -v cargo-deb >/dev/null || $(CARGO) install --locked cargo-deb
	$(CARGO) deb --no-build --target $(HOST) --output target/debian/

# The package installed into a scratch root, used, and removed.
package-test: deb
	integration/package/run.sh target/debian/vzrun_*.deb

demo: deps build
	rm -rf $(DEMO)
	hack/mkbundle.sh $(DEMO) vzrun-demo
	cd $(DEMO) && $(CURDIR)/$(BIN) --root /run/vzrun-demo run vzrun-demo
	@# the container's cgroup is gone; its parent /vzrun and the demo's
	@# state root too once empty
	@for d in /sys/fs/cgroup/*/vzrun /run/vzrun-demo; do [ -d "$$d" ] && rmdir "$$d" 2>/dev/null; done; true

clean:
	$(CARGO) clean
	rm -rf demo
