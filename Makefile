# hsm-journal build. `make` builds into $(BUILD)/; `make check` installs what
# is missing, builds, and runs unit, sanitizer and integration tests.
CC ?= cc
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CFLAGS ?= -O2 -g
LDFLAGS ?=
SANITIZE ?=
# CI builds with -Werror; a developer can ask for it with WERROR=1.
WERROR ?= $(if $(CI),1,0)

PKGS := liburing libsystemd json-c libisal
ROCKSDB_CFLAGS ?= $(shell pkg-config --cflags rocksdb 2>/dev/null)
ROCKSDB_LIBS ?= $(shell pkg-config --libs rocksdb 2>/dev/null || echo -lrocksdb)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS ?= $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wpointer-arith -Wundef -Wwrite-strings \
	-Wno-missing-field-initializers
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -MMD -MP -Ijournal \
	$(ROCKSDB_CFLAGS) $(PKG_CFLAGS)
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS := $(ROCKSDB_LIBS) $(PKG_LIBS) -lpthread

JOURNAL_SRCS := $(wildcard journal/*.c)
TRACKER_SRCS := $(filter-out tracker/main.c,$(wildcard tracker/*.c))
RECOVERY_SRCS := $(filter-out recovery/main.c,$(wildcard recovery/*.c))
CLI_SRCS := $(filter-out tools/hsm-journal/main.c,$(wildcard tools/hsm-journal/*.c))
BENCH_SRCS := $(wildcard tools/bench/*.c)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIBHSMJ := $(BUILD)/lib/libhsmj.a
LIBTRACKER := $(BUILD)/lib/libtracker.a
LIBRECOVERY := $(BUILD)/lib/librecovery.a
LIBCLI := $(BUILD)/lib/libcli.a

PROGRAMS := $(BUILD)/bin/hsm-journal
ifneq ($(wildcard tracker/main.c),)
PROGRAMS += $(BUILD)/bin/hsm-tracker
endif
ifneq ($(wildcard recovery/main.c),)
PROGRAMS += $(BUILD)/bin/hsm-recover
endif
BENCHES := $(patsubst tools/bench/%.c,$(BUILD)/bin/%,$(BENCH_SRCS))
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps unit unit-san integration check bench install clean demo check-crash
all: $(PROGRAMS) $(BENCHES) $(UNIT_TESTS) $(HELPERS)

deps:
	scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBHSMJ): $(call obj,$(JOURNAL_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBTRACKER): $(call obj,$(TRACKER_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBRECOVERY): $(call obj,$(RECOVERY_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBCLI): $(call obj,$(CLI_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/hsm-journal: $(call obj,tools/hsm-journal/main.c) $(LIBCLI) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bin/hsm-tracker: $(call obj,tracker/main.c) $(LIBTRACKER) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bin/hsm-recover: $(call obj,recovery/main.c) $(LIBRECOVERY) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bin/%: $(BUILD)/obj/tools/bench/%.o $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/tests/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A unit test named test_<dir>_*.c also links that program's library.
$(BUILD)/tests/test_tracker_%: $(BUILD)/obj/tests/unit/test_tracker_%.o $(LIBTRACKER) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)
$(BUILD)/tests/test_recovery_%: $(BUILD)/obj/tests/unit/test_recovery_%.o $(LIBRECOVERY) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)
$(BUILD)/tests/test_cli_%: $(BUILD)/obj/tests/unit/test_cli_%.o $(LIBCLI) $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIBHSMJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

unit: all
	tests/run.sh unit $(BUILD)

unit-san:
	$(MAKE) BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g" all
	tests/run.sh unit build/san

integration: all
	tests/run.sh integration $(BUILD)

# The one command CI and users run.
check: deps
	$(MAKE) all
	$(MAKE) BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g" all
	tests/run.sh all $(BUILD) build/san

bench: all
	tests/bench.sh $(BUILD)

# Long crash-oracle runs (make check runs a few iterations):
#   make check-crash N=200 FS=ext4,xfs,btrfs MODES=kill,power
N ?= 20
FS ?= ext4,xfs,btrfs
MODES ?= kill,power
check-crash: all
	tests/crash/oracle.sh --iterations $(N) --fs $(FS) --modes $(MODES) --build $(BUILD)

# The README's main job: loop images, tracker, backups from the feed, a crash.
demo: deps
	$(MAKE) all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	-install -m 644 docs/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/ 2>/dev/null
	-install -m 644 docs/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/ 2>/dev/null
	-install -m 644 docs/systemd/*.service $(DESTDIR)$(PREFIX)/lib/systemd/system/ 2>/dev/null

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
