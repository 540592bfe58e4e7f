# Thin wrappers; the real work is in scripts/. PREFIX and DESTDIR are passed
# through: make install PREFIX=/usr DESTDIR=/tmp/stage
PREFIX ?= /usr/local
DESTDIR ?=
export PREFIX DESTDIR

.PHONY: build install uninstall test check-unit deb check-deb

build:
	cargo build --release --locked

install:
	scripts/install

uninstall:
	scripts/install --uninstall

test:
	./scripts/test

# Lints systemd/ticketd.service (systemd-analyze verify + security).
check-unit:
	scripts/check-unit

# Debian/Ubuntu: target/debian/ticketd_<version>_<arch>.deb (cargo-deb,
# installed when missing). Then: sudo apt install ./target/debian/ticketd_*.deb
deb:
	scripts/deb

# Builds the package, runs lintian, installs it, checks it, purges it (root).
check-deb:
	scripts/check-deb
