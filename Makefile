# modgate: one Makefile.  `make run` and `make test` are the quick start;
# both install missing Debian packages first (scripts/deps.sh).
#
#   make [all]        build modgated and modgate into $(BUILD)/
#   make run          start modgated in the foreground on ./run/modgated.sock
#   make test         unit tests, then integration tests against the daemon
#   make test SAN=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan         concurrency tests under ThreadSanitizer (build-tsan/)
#   make bench        benchmarks (figures and ratios)
#   make model        retrain the shipped model from ../shared/data
#   make install      PREFIX, DESTDIR, SYSCONFDIR honoured
#   make deb          the Debian package (debian/), checked by lintian
#   make deb-test     install, run and purge it in a scratch root

VERSION		= 0.1.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
DATADIR		?= $(PREFIX)/share
MANDIR		?= $(DATADIR)/man
SYSCONFDIR	?= $(PREFIX)/etc

CC		?= cc
PKG_CONFIG	?= pkg-config
PKGS		= libevent libevent_pthreads libpcre2-8 openblas libconfig \
		  jansson libutf8proc libhs libsodium libsystemd

SAN		?= 0
TSAN		?= 0
ifeq ($(TSAN),1)
BUILD		?= build-tsan
SANFLAGS	= -fsanitize=thread -fno-omit-frame-pointer
OPTFLAGS	= -O1 -g
else ifeq ($(SAN),1)
BUILD		?= build-san
SANFLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer \
		  -fno-sanitize-recover=undefined
OPTFLAGS	= -O1 -g
else
BUILD		?= build
SANFLAGS	=
OPTFLAGS	= -O2 -g -D_FORTIFY_SOURCE=2
endif

WARNFLAGS	= -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
		  -Wmissing-prototypes -Wno-unused-parameter -Wformat=2
HARDFLAGS	= -fstack-protector-strong -fPIE
DEFS		= -D_GNU_SOURCE -DMODGATE_VERSION='"$(VERSION)"' \
		  -DSYSCONFDIR='"$(SYSCONFDIR)"' -DDATADIR='"$(DATADIR)"'
PKG_CFLAGS	= $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	= $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS	= -std=c11 $(OPTFLAGS) $(WARNFLAGS) $(HARDFLAGS) $(SANFLAGS) \
		  $(DEFS) -Iinclude $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS	= -pie -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)
LIBS		= $(PKG_LIBS) -lstdc++ -lm -pthread

# src/modgated.c and src/modgate.c hold main(); src/cmd-*.c are the
# subcommands of modgate; everything else is the shared library of modules.
MAIN_SRCS	= src/modgated.c src/modgate.c
CMD_SRCS	= $(wildcard src/cmd-*.c)
LIB_SRCS	= $(filter-out $(MAIN_SRCS) $(CMD_SRCS),$(wildcard src/*.c))
LIB_OBJS	= $(LIB_SRCS:src/%.c=$(BUILD)/%.o)
CMD_OBJS	= $(CMD_SRCS:src/%.c=$(BUILD)/%.o)
UNIT_SRCS	= $(wildcard tests/unit/test-*.c)
UNIT_BINS	= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS	= $(wildcard bench/*.c)
BENCH_BINS	= $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

all: $(BUILD)/modgated $(BUILD)/modgate

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Objects are rebuilt when the paths compiled into them (DEFS) change, so
# that `make install PREFIX=...` never installs stale default paths.
$(BUILD)/defs.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(DEFS)' | cmp -s - $@ || echo '$(DEFS)' > $@
$(LIB_OBJS) $(CMD_OBJS) $(BUILD)/modgated.o $(BUILD)/modgate.o: $(BUILD)/defs.stamp
FORCE:

$(BUILD)/libmodgate.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(BUILD)/modgated: $(BUILD)/modgated.o $(BUILD)/libmodgate.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/modgated.o $(BUILD)/libmodgate.a $(LIBS)

$(BUILD)/modgate: $(BUILD)/modgate.o $(CMD_OBJS) $(BUILD)/libmodgate.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/modgate.o $(CMD_OBJS) \
	    $(BUILD)/libmodgate.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmodgate.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libmodgate.a \
	    $(LIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmodgate.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libmodgate.a $(LIBS)

# The quick start: build, then serve ./run/modgated.sock in the foreground
# with the shipped config, rules and model; audit log and state in ./run/.
run:
	@scripts/deps.sh run
	$(MAKE) all
	@mkdir -p run
	@# etc/modgated.conf serves HTTP on loopback with the bearer token in
	@# run/http.tokens, made here once.
	@[ -s run/http.tokens ] || { umask 077; printf 'run %s\n' \
	    "$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >run/http.tokens; }
	@echo "HTTP: http://$$(sed -n '/^http:/,/^};/s/.*listen = "\(.*\)";.*/\1/p' \
	    etc/modgated.conf)/, header \"Authorization: Bearer $$(cut -d' ' -f2 \
	    run/http.tokens)\""
	$(BUILD)/modgated -F -c etc/modgated.conf -s run/modgated.sock

test: deps-test
	$(MAKE) all unit-bins
	BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

unit-bins: $(UNIT_BINS)

bench: deps-test
	$(MAKE) all $(BENCH_BINS)
	BUILD=$(BUILD) bench/run.sh

# libFuzzer targets (clang): fuzz/fuzz-NAME.c against the library built with
# the fuzzer and sanitizers; `make fuzz` runs each for FUZZ_SECONDS on its
# seeds in fuzz/corpus/NAME/ (and fuzz/NAME.dict when present).
FUZZ_CC		= clang
FUZZ_BUILD	= build-fuzz
FUZZ_SECONDS	?= 20
FUZZ_FLAGS	= -fsanitize=fuzzer-no-link,address,undefined -g -O1
FUZZ_SRCS	= $(wildcard fuzz/fuzz-*.c)
FUZZ_BINS	= $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJS	= $(LIB_SRCS:src/%.c=$(FUZZ_BUILD)/%.o)
# Made by a chain of pattern rules: without this make deletes them as
# intermediate files at the end of every run.
.SECONDARY: $(FUZZ_LIB_OBJS)

$(FUZZ_BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 $(FUZZ_FLAGS) $(DEFS) -Iinclude $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz-%: fuzz/fuzz-%.c $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) -std=c11 $(DEFS) -Iinclude $(PKG_CFLAGS) -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB_OBJS) $(LIBS)

fuzz: deps-test
	$(MAKE) $(FUZZ_BINS)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# MODEL_ARGS: extra make_model.py options, e.g. MODEL_ARGS="--out /tmp/m";
# it fine-tunes models/base, which `make pretrain` writes (PRETRAIN_ARGS:
# extra train/pretrain.py options; it resumes from build/pretrain/).  Both
# train on ../shared/data beside the repository unless told otherwise
# (--data FILE.jsonl, --shared DIR), and say so when it is absent.
NEED_DATA	= { echo "make $@: needs the training data: ../shared/data" \
		    "beside the repository, or $(1)" >&2; exit 1; }
model:
	@case " $(MODEL_ARGS) " in *" --data"*|*" --shared"*) ;; *) \
	[ -d ../shared/data ] || $(call NEED_DATA,MODEL_ARGS=\"--data FILE.jsonl\") ;; esac
	@scripts/deps.sh model
	/usr/bin/python3 train/make_model.py --threads 2 $(MODEL_ARGS)

pretrain:
	@case " $(PRETRAIN_ARGS) " in *" --shared"*) ;; *) \
	[ -d ../shared/data ] || $(call NEED_DATA,PRETRAIN_ARGS=\"--shared DIR\") ;; esac
	@scripts/deps.sh model
	/usr/bin/python3 train/pretrain.py --threads 2 --work $(BUILD)/pretrain $(PRETRAIN_ARGS)

# Installation (FHS).  PREFIX, DESTDIR and SYSCONFDIR are honoured; the
# installed modgated.conf names the installed rules and model.  systemd
# places the socket, audit log and state under /run, /var/log and /var/lib
# (RUNSTATEDIR and LOCALSTATEDIR only change what the config file says).
LOCALSTATEDIR	?= /var
RUNSTATEDIR	?= /run
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
INSTALL		?= install
# Creates the modgate user at a root install without DESTDIR.
SYSUSERS	?= systemd-sysusers
MAN1		= $(wildcard man/*.1)
MAN5		= $(wildcard man/*.5)
MAN7		= $(wildcard man/*.7)
MAN8		= $(wildcard man/*.8)
CONFDIR		= $(SYSCONFDIR)/modgate
MODELDIR	= $(DATADIR)/modgate/models
INSTALL_SED	= sed -e 's|/etc/modgate/|$(CONFDIR)/|g' \
		  -e 's|"\.\./rules/|"$(CONFDIR)/rules/|g' \
		  -e 's|"\.\./models/|"$(MODELDIR)/|g' \
		  -e 's|"\.\./run/modgated\.sock"|"$(RUNSTATEDIR)/modgate/modgated.sock"|g' \
		  -e 's|"\.\./run/audit\.[a-z]*"|"$(LOCALSTATEDIR)/log/modgate/audit.jsonl"|g' \
		  -e 's|cache_dir = ""|cache_dir = "$(LOCALSTATEDIR)/lib/modgate"|' \
		  -e 's|/usr/sbin/modgated|$(SBINDIR)/modgated|g' \
		  -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' \
		  -e 's|@RUNSTATEDIR@|$(RUNSTATEDIR)|g' \
		  -e '/^http:/,/^};/s|enabled = true;|enabled = false;|' \
		  -e 's|"\.\./run/http\.tokens"|"$(CONFDIR)/http.tokens"|'

# An existing modgated.conf is kept; the new one goes beside it as .new.
install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(CONFDIR)/rules $(DESTDIR)$(MODELDIR)/default \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	$(INSTALL) -d -m 700 $(DESTDIR)$(LOCALSTATEDIR)/log/modgate \
	    $(DESTDIR)$(LOCALSTATEDIR)/lib/modgate
	$(INSTALL) -m 755 $(BUILD)/modgated $(DESTDIR)$(SBINDIR)/modgated
	$(INSTALL) -m 755 $(BUILD)/modgate $(DESTDIR)$(BINDIR)/modgate
	$(INSTALL) -m 644 rules/*.rules $(DESTDIR)$(CONFDIR)/rules/
	@test -f models/default/config.json || { echo "install: no model" \
	    "in models/default (make model)" >&2; exit 1; }
	$(INSTALL) -m 644 models/default/* $(DESTDIR)$(MODELDIR)/default/
	$(INSTALL_SED) etc/modgated.conf > $(BUILD)/modgated.conf.inst
	@if grep -n '"\.\./' $(BUILD)/modgated.conf.inst; then \
		echo "install: etc/modgated.conf names paths in the source" \
		    "tree that INSTALL_SED does not map" >&2; exit 1; fi
	if [ -e $(DESTDIR)$(CONFDIR)/modgated.conf ] && \
	    ! cmp -s $(BUILD)/modgated.conf.inst $(DESTDIR)$(CONFDIR)/modgated.conf; then \
		$(INSTALL) -m 644 $(BUILD)/modgated.conf.inst \
		    $(DESTDIR)$(CONFDIR)/modgated.conf.new; \
		echo "kept $(DESTDIR)$(CONFDIR)/modgated.conf; new one is modgated.conf.new"; \
	else \
		$(INSTALL) -m 644 $(BUILD)/modgated.conf.inst \
		    $(DESTDIR)$(CONFDIR)/modgated.conf; \
	fi
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	$(INSTALL) -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL_SED) systemd/modgated.service > $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.service
	$(INSTALL_SED) systemd/modgated.socket > $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.socket
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.socket
	$(INSTALL) -m 644 systemd/modgate.sysusers $(DESTDIR)$(SYSUSERSDIR)/modgate.conf
	$(INSTALL_SED) etc/modgate.logrotate > $(DESTDIR)$(SYSCONFDIR)/logrotate.d/modgate
	chmod 644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/modgate
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && \
	    command -v $(SYSUSERS) >/dev/null; then \
		echo "$(SYSUSERS) $(SYSUSERSDIR)/modgate.conf"; \
		$(SYSUSERS) $(SYSUSERSDIR)/modgate.conf; \
	fi

# The configuration is left in place when it differs from the shipped one.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/modgated $(DESTDIR)$(BINDIR)/modgate
	for f in rules/*.rules; do rm -f $(DESTDIR)$(CONFDIR)/$$f; done
	rm -rf $(DESTDIR)$(MODELDIR)/default
	-rmdir $(DESTDIR)$(MODELDIR) $(DESTDIR)$(DATADIR)/modgate
	$(INSTALL_SED) etc/modgated.conf > $(BUILD)/modgated.conf.inst
	if cmp -s $(BUILD)/modgated.conf.inst $(DESTDIR)$(CONFDIR)/modgated.conf; then \
		rm -f $(DESTDIR)$(CONFDIR)/modgated.conf; fi
	rm -f $(DESTDIR)$(CONFDIR)/modgated.conf.new
	-rmdir $(DESTDIR)$(CONFDIR)/rules $(DESTDIR)$(CONFDIR)
	for f in $(notdir $(MAN1)); do rm -f $(DESTDIR)$(MANDIR)/man1/$$f; done
	for f in $(notdir $(MAN5)); do rm -f $(DESTDIR)$(MANDIR)/man5/$$f; done
	for f in $(notdir $(MAN7)); do rm -f $(DESTDIR)$(MANDIR)/man7/$$f; done
	for f in $(notdir $(MAN8)); do rm -f $(DESTDIR)$(MANDIR)/man8/$$f; done
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/modgated.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/modgate.conf \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/modgate

# The Debian package, built with dpkg-buildpackage from a copy of the tree
# in build/deb/ (which also receives the .deb files) and checked by
# lintian; deb-test installs it into a scratch root, runs it and purges it.
DEB_DIR		= build/deb
DEB_SRC		= $(DEB_DIR)/modgate-$(VERSION)
deb:
	@scripts/deps.sh deb
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' \
	    --exclude=./run . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b -jauto
	lintian --fail-on error $(DEB_DIR)/modgate_*.changes

deb-test: deb
	scripts/deb-test.sh $(DEB_DIR)/modgate_$(VERSION)_*.deb

# Every man page must be clean under mandoc -Tlint.
man-lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7) $(MAN8)

.PHONY: install uninstall man-lint deb deb-test

# ThreadSanitizer: the worker pool, the classifier's shared batches and
# the reload path under concurrent requests and SIGHUPs (tests/tsan.sh).
tsan: deps-test
	$(MAKE) TSAN=1 all unit-bins
	BUILD=build-tsan tests/tsan.sh

clean:
	rm -rf build build-san build-fuzz build-tsan

.PHONY: all deps deps-test run test unit-bins bench fuzz model pretrain tsan clean

-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d)
