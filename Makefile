# Thin wrappers; the real work is in scripts/. PREFIX and DESTDIR are passed
# through: make install PREFIX=/usr DESTDIR=/tmp/stage
PREFIX ?= /usr/local
DESTDIR ?=
export PREFIX DESTDIR

.PHONY: build install uninstall test check-unit

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
