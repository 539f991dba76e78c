# The front door over CMake. `make run` and `make test` install the Debian packages that are
# missing (as root), configure, build, and then run the sample server or the test suite.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
TSAN_BUILD  ?= build-tsan
TYPE        ?= RelWithDebInfo
PORT        ?= 8080
ARGS        ?=
JOBS        ?= $(shell nproc)
PREFIX      ?= /usr/local

# What the build needs, by Debian package name.
DEBS := cmake g++ make pkg-config libfmt-dev liburing-dev libboost-context-dev libgtest-dev libcli11-dev libbenchmark-dev libssl-dev openssl

# What the benchmark adds: nginx (the external reference) and gnuplot (the figures).
BENCH_DEBS := nginx-light gnuplot-nox

.PHONY: all deps bench-deps configure build run test test-sanitize test-tsan bench bench-full install clean

all: build

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The sample HTTP server on port $(PORT); pass more flags with ARGS="--threads 1 --backend epoll-et".
run: build
	./$(BUILD)/examples/c10k-server --port $(PORT) $(ARGS)

# The whole test suite.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

# The whole test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DC10K_SANITIZE=ON -DC10K_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 600

# The suites whose code crosses threads (runtime post/stop, offload, cross_channel; the metrics
# scrape and the access log's writer thread; the client's name cache filled from the helper
# pool; TLS contexts shared by loop threads: the client's session cache, the server's context
# replaced by a reload while its loops accept), built with ThreadSanitizer; only those test
# binaries are built. Fiber cases stay out (-E fiber; tls_server_test's rerun with fiber
# connections too):
# TSan cannot follow Boost.Context stack switches, which c10k does not annotate for it.
# io_uring runs too; tests/tsan.supp says why liburing's ring writes need a suppression.
TSAN_TARGETS := cross_thread_test event_loop_test observability_test client_test task_dump_test tls_server_test tls_threads_test
TSAN_TESTS   := cross_thread_test|event_loop_test[.](post|stop)_from_another_thread|metrics_test[.]|access_log_test[.]|client_test[.]names_resolve|task_dump_test|tls_server[.]|tls_threads[.]
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DC10K_TSAN=ON -DC10K_BUILD_BENCH=OFF -DC10K_BUILD_EXAMPLES=OFF
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TARGETS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) --timeout 600 -R '$(TSAN_TESTS)' -E fiber

bench-deps:
	@$(MAKE) --no-print-directory deps DEBS="$(BENCH_DEBS)"

# The benchmark (bench/README.md): the quick run (under 10 minutes on 2 cores), or the whole
# matrix; each writes results/<date>-<profile>/report.md with its figures.
bench: build bench-deps
	python3 bench/run.py --quick --build $(BUILD)

bench-full: build bench-deps
	python3 bench/run.py --full --build $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
