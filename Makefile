# hermod: one non-recursive Makefile.
#
#   make            build/hermod (optimised, warnings are errors)
#   make run        install what is missing, build, serve with the default config
#   make test       install what is missing, run every test on the normal and
#                   the ASan+UBSan build (what .ci/run does)
#   make check      unit + integration tests on build/hermod
#   make asan       build/asan/hermod with AddressSanitizer + UBSan
#   make check-asan the same tests on build/asan/hermod
#   make tsan       build/tsan/hermod with ThreadSanitizer, and the integration
#                   tests over the worker-pool hand-offs on it (TSAN_TESTS)
#   make bench      benchmarks (see bench/README.md)
#   make lint       cppcheck, the layer order of the includes, self-contained headers
#   make install    PREFIX=/usr/local DESTDIR=: the binary, hermod(1), hermod.yaml(5),
#                   bash completion, the systemd unit and the example config

CC      ?= cc
PKGS    := libuv jansson yajl yaml-0.1 sqlite3 \
           libjpeg libpng libwebp libwebpdemux libexif nettle
# Headers only: medialib.c, form.c and ingest/ocr.c dlopen these on first use (idle RSS).
DLPKGS  := libheif libavformat libavcodec libswscale libavutil gmime-3.0 tesseract
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(DLPKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2 \
        -Wno-unused-parameter -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -fno-omit-frame-pointer -iquote src -iquote build/gen $(WARN) $(PKG_CFLAGS)
# http-parser (Debian libhttp-parser-dev) has no pkg-config file.
LIBS := $(PKG_LIBS) -lhttp_parser -lpthread -lm -ldl

OPT_CFLAGS  := -O2
ASAN_CFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LDFLAGS := -fsanitize=address,undefined
TSAN_CFLAGS := -O1 -fsanitize=thread
TSAN_LDFLAGS := -fsanitize=thread

# Module folders by layer (HACKING.md); main.c sits above them in src/.
SRC  := $(wildcard src/*.c src/*/*.c)
ASM  := $(wildcard src/*/*.S)
MAIN := src/main.c
LIBSRC := $(filter-out $(MAIN),$(SRC))

OBJ      := $(patsubst src/%.c,build/obj/%.o,$(LIBSRC)) $(patsubst src/%.S,build/obj/%.o,$(ASM))
ASAN_OBJ := $(patsubst src/%.c,build/asan/obj/%.o,$(LIBSRC)) $(patsubst src/%.S,build/asan/obj/%.o,$(ASM))
TSAN_OBJ := $(patsubst src/%.c,build/tsan/obj/%.o,$(LIBSRC)) $(patsubst src/%.S,build/tsan/obj/%.o,$(ASM))

# tests/unit/<folder>/test_<module>.c mirrors src/; the binaries stay flat
# (build/tests/test_<module>), so test names are unique across folders.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(addprefix build/tests/,$(basename $(notdir $(UNIT_SRC))))
ASAN_UNIT_BIN := $(addprefix build/asan/tests/,$(basename $(notdir $(UNIT_SRC))))
FAKES_SRC := $(wildcard tests/fakes/*.c)
FAKES := $(patsubst tests/fakes/%.c,build/%,$(FAKES_SRC))

.PHONY: all asan check check-asan test run deps test-deps bench lint clean fakes unit install
all: build/hermod $(FAKES) build/gguf-gen

deps:
	@scripts/deps
test-deps:
	@scripts/deps --test

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -MMD -MP -c $< -o $@
build/obj/%.o: src/%.S
	@mkdir -p $(dir $@)
	$(CC) -Ibuild/gen -I. -c $< -o $@
build/asan/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@
build/asan/obj/%.o: src/%.S
	@mkdir -p $(dir $@)
	$(CC) -Ibuild/gen -I. -c $< -o $@

build/tsan/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TSAN_CFLAGS) -MMD -MP -c $< -o $@
build/tsan/obj/%.o: src/%.S
	@mkdir -p $(dir $@)
	$(CC) -Ibuild/gen -I. -c $< -o $@

# The default config is compiled into the binary.
build/obj/core/default_config.o build/asan/obj/core/default_config.o build/tsan/obj/core/default_config.o: etc/hermod.yaml
build/obj/gateway/dashboard_html.o build/asan/obj/gateway/dashboard_html.o build/tsan/obj/gateway/dashboard_html.o: src/gateway/dashboard.html

build/libhermod.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^
build/asan/libhermod.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/tsan/libhermod.a: $(TSAN_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/tsan/hermod: build/tsan/obj/main.o build/tsan/libhermod.a
	$(CC) $(TSAN_LDFLAGS) -o $@ $^ $(LIBS)

build/hermod: build/obj/main.o build/libhermod.a
	$(CC) -o $@ $^ $(LIBS)
build/asan/hermod: build/asan/obj/main.o build/asan/libhermod.a
	$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)

define unit_rules
build/tests/$(basename $(notdir $(1))): $(1) build/libhermod.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(OPT_CFLAGS) -Wno-missing-prototypes -MMD -MP -o $$@ $$< build/libhermod.a $$(LIBS) -lcmocka
build/asan/tests/$(basename $(notdir $(1))): $(1) build/asan/libhermod.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(ASAN_CFLAGS) -Wno-missing-prototypes $$(ASAN_LDFLAGS) -MMD -MP -o $$@ $$< build/asan/libhermod.a $$(LIBS) -lcmocka
endef
$(foreach t,$(UNIT_SRC),$(eval $(call unit_rules,$(t))))

# Media preprocessing throughput (bench/image.sh, bench/README-media.md).
build/bench/image: bench/image.c build/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -o $@ $< build/libhermod.a $(LIBS)

# Test engines: small programs of our own that speak the OpenAI protocol.
build/%: tests/fakes/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $(shell pkg-config --cflags libmicrohttpd) -o $@ $< $(LIBS) $(shell pkg-config --libs libmicrohttpd)

# --- gguf-gen: synthetic GGUF models (tools/, see docs/internals/estimate.md).
# The unit test test_gguf #includes tools/gguf_write.c and tools/gguf_model.c.
GGUF_GEN_SRC := tools/gguf-gen.c tools/gguf_write.c tools/gguf_model.c
GGUF_GEN_HDR := tools/gguf_write.h tools/gguf_model.h
build/gguf-gen: $(GGUF_GEN_SRC) $(GGUF_GEN_HDR) build/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -o $@ $(GGUF_GEN_SRC) build/libhermod.a $(LIBS)
build/tests/test_gguf build/asan/tests/test_gguf: $(GGUF_GEN_SRC) $(GGUF_GEN_HDR)
# --- end gguf-gen

# Benchmarks and measurement tools: one program per bench/NAME.c.
build/bench/%: bench/%.c build/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -Wno-missing-prototypes -o $@ $< build/libhermod.a $(LIBS)

asan: build/asan/hermod $(FAKES)
fakes: $(FAKES)
unit: $(UNIT_BIN)

check: build/hermod $(FAKES) $(UNIT_BIN)
	@tests/run build

check-asan: build/asan/hermod $(FAKES) $(ASAN_UNIT_BIN)
	@tests/run build/asan

# ThreadSanitizer over the integration tests whose work crosses to libuv's
# worker pool and back: ingest (decode, store, OCR), sizing of models
# (estimate on the pool), and the store faults. tests/tsan.supp lists the
# library internals judged benign, each with its reason.
TSAN_TESTS ?= 009-budget 012-pipeline 016-ocr 023-faults-store
.PHONY: tsan
tsan: build/tsan/hermod $(FAKES) build/gguf-gen
	@TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=0 second_deadlock_stack=1 $(TSAN_OPTIONS)" \
	    HERMOD_BIN=$(CURDIR)/build/tsan/hermod FAKE_ENGINE=$(CURDIR)/build/fake-engine HERMOD_BUILD=build/tsan \
	    node --test --test-timeout=300000 --test-concurrency=1 --test-reporter=spec \
	    $(foreach t,$(TSAN_TESTS),tests/integ/$(t).test.mjs) >build/tsan/integ.log 2>&1; \
	    rc=$$?; grep -E '^(✔|✖|ℹ)' build/tsan/integ.log; \
	    [ $$rc -eq 0 ] || tail -n 80 build/tsan/integ.log; exit $$rc

# kill -9 at random points during ingest, 50 trials: every acknowledged
# ingest survives and PRAGMA integrity_check passes (bench/kill9.mjs; CI).
DURABILITY_TRIALS ?= 50
.PHONY: durability
durability: build/hermod $(FAKES)
	@HERMOD_BIN=$(CURDIR)/build/hermod FAKE_ENGINE=$(CURDIR)/build/fake-engine \
	    node bench/kill9.mjs $(DURABILITY_TRIALS)

# What the README's test command and .ci/run do.
test: test-deps
	@$(MAKE) --no-print-directory -j2 all asan $(UNIT_BIN) $(ASAN_UNIT_BIN)
	@tests/run build build/asan

run: deps
	@$(MAKE) --no-print-directory -j2 build/hermod
	build/hermod serve $(ARGS)

bench: all
	@bench/run

# make lint: three checks, any finding fails it.
#  - cppcheck over src/ in the configuration we build (-D_GNU_SOURCE), with
#    jansson's header (and only it) visible so its foreach macros parse;
#    judged false positives go in scripts/cppcheck.supp or inline.
#  - scripts/check-layers: the folder graph of the includes against the
#    layer order (HACKING.md, "Module map").
#  - every header compiles on its own (headers are self-contained).
LINT_INC := build/lint/include
JANSSON_INC := $(shell pkg-config --variable=includedir jansson 2>/dev/null || echo /usr/include)
HDRS := $(wildcard src/*/*.h)
lint:
	@mkdir -p $(LINT_INC)
	@ln -sf $(JANSSON_INC)/jansson.h $(JANSSON_INC)/jansson_config.h $(LINT_INC)/
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem --suppressions-list=scripts/cppcheck.supp \
	    -D_GNU_SOURCE -Isrc -I$(LINT_INC) src
	scripts/check-layers
	@for h in $(HDRS:src/%=%); do \
	    printf '#include "%s"\n' "$$h" | $(CC) $(BASE_CFLAGS) -fsyntax-only -x c - || \
	    { echo "lint: src/$$h does not compile on its own" >&2; exit 1; }; \
	done
	@echo "lint: clean"

clean:
	rm -rf build

-include $(wildcard build/obj/*.d build/obj/*/*.d build/asan/obj/*.d build/asan/obj/*/*.d \
                    build/tsan/obj/*.d build/tsan/obj/*/*.d \
                    build/tests/*.d build/asan/tests/*.d)

# Benchmark clients (see bench/README.md).
build/bench/sse_client: bench/sse_client.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -o $@ $< $(shell pkg-config --cflags --libs libcurl)

# ---- langid: evaluation tool and benchmark (docs/internals/langid.md) -------------
build/tools/langid-eval: tools/langid/eval.c build/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -o $@ $< build/libhermod.a $(LIBS)
build/bench/langid: bench/langid.c build/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -o $@ $< build/libhermod.a $(LIBS)

# ---- fuzz: libFuzzer harnesses (tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/NAME/) ----
# The library is built again by clang with ASan + UBSan and libFuzzer's
# coverage (build/fuzz/libhermod.a); each harness links against it. clang's
# -Wformat-nonliteral also flags vprintf-style helpers (log.c), which gcc
# exempts; it is off here only.
# `make fuzz FUZZ_SECONDS=N` runs each for N seconds (scripts/fuzz) and
# prints "fuzz NAME: RUNS runs, CRASHES crashes"; .ci/run runs it with 5.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -iquote src -iquote build/gen \
               $(WARN) -Wno-unused-command-line-argument -Wno-format-nonliteral $(PKG_CFLAGS) \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix build/fuzz/fuzz_,$(FUZZ_NAMES))
FUZZ_OBJ := $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIBSRC)) $(patsubst src/%.S,build/fuzz/obj/%.o,$(ASM))

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/obj/%.o: src/%.S
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -Ibuild/gen -I. -c $< -o $@
build/fuzz/obj/core/default_config.o: etc/hermod.yaml
build/fuzz/obj/gateway/dashboard_html.o: src/gateway/dashboard.html
build/fuzz/libhermod.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
# Every harness is one file over the library.
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libhermod.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer -MMD -MP -o $@ $< \
	    build/fuzz/libhermod.a $(LIBS)

.PHONY: fuzz
fuzz: $(FUZZ_BINS)
	@scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

-include $(wildcard build/fuzz/obj/*/*.d build/fuzz/*.d)

# --- install: make install PREFIX=/usr/local [DESTDIR=...] [INSTALL_BIN=build/hermod]
PREFIX ?= /usr/local
INSTALL_BIN ?= build/hermod
build/man/hermod.yaml.5: docs/config.md scripts/md2man
	@mkdir -p $(dir $@)
	awk -f scripts/md2man -v date="$$(date -u -r docs/config.md +%Y-%m)" $< > $@
install: $(INSTALL_BIN) build/man/hermod.yaml.5
	install -Dm755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/hermod
	install -Dm644 docs/man/hermod.1 $(DESTDIR)$(PREFIX)/share/man/man1/hermod.1
	install -Dm644 build/man/hermod.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/hermod.yaml.5
	install -Dm644 etc/completion/hermod.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hermod
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|g' etc/systemd/hermod.service.in \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/hermod.service
	install -Dm644 etc/hermod.yaml $(DESTDIR)$(PREFIX)/share/doc/hermod/hermod.yaml.example
