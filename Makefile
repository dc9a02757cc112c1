.PHONY: test demo bench
# Every test: fmt, clippy, unit tests, integration tests against the local AWS emulator.
test:
	bash scripts/test.sh
