# `make test` is the whole test run, as in CI (.ci/run): see scripts/test.
.PHONY: test demo bench bench-checks bench-director bootstrap lint

test:
	scripts/test

# The DR lab on examples/cluster.yaml, DR and NAT side by side (inside the VM when needed).
demo:
	scripts/demo $(DEMO_ARGS)

# Scale: ipvsctl against ipvsadm at 1,000 and 10,000 services x 10 real servers (docs/bench.md).
bench: bootstrap
	bench/run $(BENCH_ARGS)

# Health-check cost: ipvsctl's checker against keepalived's on the same targets (docs/bench.md).
bench-checks: bootstrap
	bench/run --checks $(BENCH_ARGS)

# Detection: listener stop -> weight 0, ipvsctl run against keepalived (docs/bench.md).
bench-director: bootstrap
	bench/run --director $(BENCH_ARGS)

bootstrap:
	scripts/bootstrap

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy ipvsctl
