.PHONY: test demo bench
# Every test: fmt, clippy, unit tests, integration tests against the local AWS emulator.
test:
	bash scripts/test.sh

# The demo: a security incident on the local AWS emulator, through the real function binaries.
demo:
	bash scripts/demo.sh

# Benchmarks of the release binaries: cold start, containment round trips, memory, size, storm.
bench:
	bash scripts/bench.sh
